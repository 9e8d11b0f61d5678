import { App, Validations } from 'aws-cdk-lib';
import cdkNag from 'cdk-nag';
import type { FunctionName } from '../functions/catalog';
import { loadPipelineConfig, type PipelineConfig } from './config';
import { PipelineStack } from './pipeline-stack';

/**
 * `npx cdk synth|deploy [-c environment=<name>]`: one stack per environment, from infra/environments/<name>.json.
 */
export function addPipelineStack(
  app: App,
  config: PipelineConfig,
  environment: string,
  functions?: readonly FunctionName[],
): PipelineStack {
  const stack = new PipelineStack(app, config.name, {
    config,
    functions,
    env: { account: config.account, region: config.region },
    description: `Kafka to Scylla processors (${environment})`,
    tags: { application: 'kafka-scylla-processors', environment },
  });
  // cdk-nag's AwsSolutions pack runs on every synth as a policy-validation plugin: an unacknowledged finding fails
  // the synth. (cdk-nag is CommonJS whose re-exports Node's ESM loader cannot see: hence the default import.)
  Validations.of(app).addPlugins(
    new cdkNag.AwsSolutionsChecks(app, { verbose: true, writeSuppressionsToCloudFormation: true }),
  );
  return stack;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const app = new App();
  const environment = String(app.node.tryGetContext('environment') ?? 'example');
  addPipelineStack(app, loadPipelineConfig(environment), environment);
  app.synth();
}
