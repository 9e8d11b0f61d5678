import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { FunctionName } from '../../functions/catalog';
import type { StackEndpoints } from '../stack/config';
import { installLambdaRuntime, type LambdaRuntime } from './artifacts';
import { createLocalResources, type LocalResources, localEnvironment } from './local-environment';
import { LambdaSandbox } from './sandbox';
import { cdkSynth, type FunctionDefinition, readFunctions } from './template';

/**
 * The deployed app, run locally: the functions as `cdk synth` defines them, AWS's runtime pieces to run them, and the
 * AWS resources their environment names, created in the local emulator. Prepared once; sandboxes started from it.
 */
export interface LocalLambdaApp {
  functions: Map<FunctionName, FunctionDefinition>;
  runtime: LambdaRuntime;
  resources: LocalResources;
  endpoints: StackEndpoints;
  workDir: string;
}

export interface PrepareOptions {
  endpoints: StackEndpoints;
  artifactsDir: string;
  /** Where the cloud assembly and the sandboxes' logs go. */
  workDir: string;
  /** Names this run's secret and queue in the emulator. */
  name: string;
  /** Report each step as it starts (the CLI prints them). */
  onStep?: (step: string) => void;
}

export async function prepareLocalLambdaApp(options: PrepareOptions): Promise<LocalLambdaApp> {
  const step = options.onStep ?? (() => {});
  mkdirSync(options.workDir, { recursive: true });
  step('synthesizing the app (cdk synth: bundles every function with infra/build.ts)');
  const cloudAssembly = await cdkSynth(path.join(options.workDir, 'cdk.out'));
  const functions = readFunctions(cloudAssembly);
  step('building the Runtime Interface Emulator and aws-lambda-ric for Node 24 (cached after the first time)');
  const runtime = await installLambdaRuntime(options.artifactsDir);
  step('creating the credentials secret and the dead-letter queue in the local AWS emulator');
  const resources = await createLocalResources(options.endpoints, options.name);
  return { functions, runtime, resources, endpoints: options.endpoints, workDir: options.workDir };
}

export interface StartOptions {
  /** Variables set over the template's and the local ones (a test's keyspace, a fault proxy). */
  overrides?: Record<string, string>;
  memorySizeMb?: number;
  /** Instead of the template's Timeout (a test that must see one pass without waiting minutes). */
  timeoutSeconds?: number;
  port?: number;
}

/** Starts one sandbox of `processor`; resolves with it and the variables whose template value was replaced. */
export async function startFunction(
  app: LocalLambdaApp,
  processor: FunctionName,
  options: StartOptions = {},
): Promise<{ sandbox: LambdaSandbox; replaced: string[] }> {
  const fromTemplate = app.functions.get(processor);
  if (!fromTemplate) throw new Error(`no function ${processor} in the template: the stack does not deploy it`);
  const definition = { ...fromTemplate, timeoutSeconds: options.timeoutSeconds ?? fromTemplate.timeoutSeconds };
  const { environment, replaced } = localEnvironment(definition, app.endpoints, app.resources, options.overrides);
  const sandbox = await LambdaSandbox.start({
    definition,
    runtime: app.runtime,
    environment,
    logFile: path.join(app.workDir, `${processor}.log`),
    memorySizeMb: options.memorySizeMb,
    port: options.port,
  });
  return { sandbox, replaced };
}
