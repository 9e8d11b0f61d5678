import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { ASSET_RESOURCE_METADATA_ENABLED_CONTEXT, BUNDLING_STACKS } from 'aws-cdk-lib/cx-api';
import type { FunctionName } from '../../../functions/catalog';
import { addPipelineStack } from '../../../infra/app';
import { ENVIRONMENTS_DIR, parsePipelineConfig } from '../../../infra/config';
import type { PipelineStack } from '../../../infra/pipeline-stack';
import { DEMO_FUNCTIONS } from '../../demo-functions';

/** The example environment's raw JSON, a fresh copy each call so a test can change it. */
type RawConfig = Record<string, unknown> & {
  vpc: Record<string, unknown>;
  kafka: Record<string, unknown>;
  scylla: Record<string, unknown>;
  /** The demo's three; a function the file does not name is absent (it gets the defaults). */
  functions: Record<FunctionName, Record<string, unknown>>;
};

export function exampleConfig(): RawConfig {
  return JSON.parse(readFileSync(path.join(ENVIRONMENTS_DIR, 'example.json'), 'utf8'));
}

/**
 * The example with an on-failure destination for the mappings' failed batches, and what its VPC endpoint needs: the
 * VPC's DNS attributes and the cluster's security group stated (SQS). The example itself has none: it rides out
 * outages with infinite retries.
 */
export function withFailedBatchesTo(kind: 's3' | 'sqs', raw: RawConfig = exampleConfig()): RawConfig {
  raw.esmFailureDestination = kind;
  raw.vpc.onFailureEndpoint = 'create';
  if (kind === 'sqs') {
    Object.assign(raw.vpc, { enableDnsSupport: true, enableDnsHostnames: true });
    Object.assign(raw.kafka, { securityGroupIds: ['sg-0c1d2e3f4a5b60701'] });
  }
  return raw;
}

export interface Synthesized {
  stack: PipelineStack;
  template: Template;
  outdir: string;
  templateFile: string;
}

/**
 * Synthesizes the app as `cdk synth` does (cdk-nag included), with the demo's three functions, into a fresh cloud assembly directory, but without
 * bundling the functions: CDK's local bundling is synchronous (three esbuild runs per synthesis, 10 to 30 s on a
 * loaded machine) and blocked the test worker's event loop past vitest's 60 s RPC timeout. The assets' hashes are
 * then made up by CDK; the test that checks the deployed bundles runs the CLI (`cdkSynth`, a child process awaited).
 */
export function synthesize(
  raw: unknown = exampleConfig(),
  amend?: (stack: PipelineStack) => void,
  /** The resources' asset metadata, as the CLI writes it (dev/lambda/template.ts reads it); off for snapshots. */
  options: { assetMetadata?: boolean } = {},
): Synthesized {
  const outdir = mkdtempSync(path.join(tmpdir(), 'cdk-out-'));
  const app = new App({
    outdir,
    context: { [BUNDLING_STACKS]: [], [ASSET_RESOURCE_METADATA_ENABLED_CONTEXT]: options.assetMetadata ?? false },
  });
  const stack = addPipelineStack(app, parsePipelineConfig(raw, 'test config'), 'test', DEMO_FUNCTIONS);
  amend?.(stack);
  const assembly = app.synth();
  const artifact = assembly.getStackByName(stack.stackName);
  return {
    stack,
    template: Template.fromJSON(artifact.template),
    outdir,
    templateFile: path.join(outdir, artifact.templateFile),
  };
}

export interface DashboardWidget {
  type: string;
  properties: { title?: string; metrics?: unknown[][] };
}

/** The dashboard's body as CloudWatch gets it, deploy-time values (a Ref, the region) as the string TOKEN. */
export function dashboardBody(template: Record<string, unknown>): {
  widgets: DashboardWidget[];
} {
  const resources = template.Resources as Record<string, { Type: string; Properties: Record<string, unknown> }>;
  const dashboard = Object.values(resources).find((r) => r.Type === 'AWS::CloudWatch::Dashboard');
  const body = dashboard?.Properties.DashboardBody as { 'Fn::Join': [string, unknown[]] };
  return JSON.parse(body['Fn::Join'][1].map((part) => (typeof part === 'string' ? part : 'TOKEN')).join(''));
}
