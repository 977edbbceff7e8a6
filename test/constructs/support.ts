import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import type { EdgeConfig } from '../../src/edge/router';

/** The region the test stacks live in (not us-east-1, so the edge function gets its own stack). */
export const REGION = 'eu-west-1';
export const ACCOUNT = '123456789012';

/** A fresh app with one stack in eu-west-1. */
export function newStack(id = 'Repos'): { app: App; stack: Stack } {
  const app = new App();
  const stack = new Stack(app, id, { env: { account: ACCOUNT, region: REGION } });
  return { app, stack };
}

/** The us-east-1 stack aws-cdk-lib adds for the Lambda@Edge functions. */
export function edgeStack(app: App): Stack {
  const stacks = app.node.children.filter((c): c is Stack => Stack.isStack(c) && c.region === 'us-east-1');
  if (stacks.length !== 1) throw new Error(`expected one us-east-1 stack, found ${stacks.length}`);
  return stacks[0];
}

/** Templates of the main stack and of the edge stack (synthesizes the app). */
export function templates(app: App, stack: Stack): { main: Template; edge: Template } {
  return { main: Template.fromStack(stack), edge: Template.fromStack(edgeStack(app)) };
}

/** The config.json baked into the (only) edge function's asset, read from the cloud assembly. */
export function bakedEdgeConfig(app: App): EdgeConfig {
  const assembly = app.synth();
  const edge = Template.fromStack(edgeStack(app));
  const functions = edge.findResources('AWS::Lambda::Function');
  const codes = Object.values(functions).map((f) => f.Properties.Code.S3Key as string);
  if (codes.length !== 1) throw new Error(`expected one edge function, found ${codes.length}`);
  const hash = codes[0].replace(/\.zip$/, '');
  return JSON.parse(readFileSync(path.join(assembly.directory, `asset.${hash}`, 'config.json'), 'utf8'));
}

/** cdk-nag AwsSolutions findings that are not acknowledged, as "rule: construct path" lines. */
export function unacknowledgedFindings(scope: IConstruct): string[] {
  const report = new AwsSolutionsChecks().validateScope(scope);
  return report.violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName}: ${r.constructPath}`));
}

/** Every acknowledgment recorded under `scope`: rule id, reason and where. */
export function acknowledgments(scope: IConstruct): Array<{ id: string; reason: string; path: string }> {
  return scope.node.findAll().flatMap((c) => c.node.metadata
    .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
    .flatMap((m) => Object.entries(m.data as Record<string, string>).map(([id, reason]) => ({ id, reason, path: c.node.path }))));
}
