import { Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/**
 * Record why a finding of a policy-validation pack (cdk-nag `AwsSolutions-*`) is accepted by
 * design, on `scope` and everything below it. Uses aws-cdk-lib's own `Validations`, so the
 * library does not depend on cdk-nag.
 */
export function acknowledge(scope: IConstruct, rules: Record<string, string>): void {
  for (const [id, reason] of Object.entries(rules)) {
    if (id.split('::').length <= 2) {
      Validations.of(scope).acknowledge({ id, reason });
    } else {
      // Finding ids such as `AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/...]`
      // hold several '::', which acknowledge() reserves for its prefix; record them in the same
      // metadata it writes, which is what validation plugins read.
      scope.node.addMetadata(Validations.ACKNOWLEDGED_RULES_METADATA_KEY, { [id]: reason });
    }
  }
}

/**
 * The finding id cdk-nag's IAM5 rule gives a wildcard resource: `Resource::` and the ARN with
 * intrinsics flattened (`{ "Fn::GetAtt": ["B", "Arn"] }` → `<B.Arn>`, joins concatenated).
 */
export function wildcardResourceFinding(scope: IConstruct, arn: string): string {
  return `AwsSolutions-IAM5[Resource::${flatten(Stack.of(scope).resolve(arn))}]`;
}

function flatten(node: unknown): string {
  if (node === undefined) return '';
  if (typeof node === 'string') return node.replace(/\$\{/g, '<').replace(/\}/g, '>');
  const obj = node as Record<string, unknown>;
  if (obj['Fn::Join']) {
    const [delimiter, items] = obj['Fn::Join'] as [string, unknown[]];
    return items.map(flatten).join(delimiter);
  }
  if (obj['Fn::Sub']) return flatten(obj['Fn::Sub']);
  if (obj['Fn::GetAtt']) {
    const [resource, attribute] = obj['Fn::GetAtt'] as [unknown, unknown];
    return `<${flatten(resource)}.${flatten(attribute)}>`;
  }
  if (obj['Fn::ImportValue']) return flatten(obj['Fn::ImportValue']);
  if (obj.Ref) return `<${flatten(obj.Ref)}>`;
  return JSON.stringify(node);
}
