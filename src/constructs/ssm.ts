import { Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type { Construct } from 'constructs';

/**
 * The ARN of a parameter in the scope's account and region. A name with a '/' is a path
 * (`/a/b` → `parameter/a/b`); a simple name gets the '/' the ARN needs (`a` → `parameter/a`).
 */
export function parameterArn(scope: Construct, name: string): string {
  if (Token.isUnresolved(name)) {
    throw new Error(`the parameter name must be a literal string (its ARN is derived from it), got a token: ${name}`);
  }
  if (name.includes('/') && !name.startsWith('/')) {
    throw new Error(`a hierarchical parameter name must start with '/': ${JSON.stringify(name)}`);
  }
  return Stack.of(scope).formatArn({ service: 'ssm', resource: 'parameter', resourceName: name.replace(/^\//, '') });
}

/** kms actions on `key`, only when SSM makes the call on the caller's behalf. */
export function viaSsm(stack: Stack, key: kms.IKey, actions: string[]): iam.PolicyStatement {
  return new iam.PolicyStatement({
    actions,
    resources: [key.keyArn],
    conditions: { StringEquals: { 'kms:ViaService': `ssm.${stack.region}.${stack.urlSuffix}` } },
  });
}
