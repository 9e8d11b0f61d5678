import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { FUNCTIONS, type FunctionName } from '../../functions/catalog';
import type { MappingSettings } from '../esm/runner';
import type { EventRecordFormat } from '../esm/schema-registry';
import { REPO_ROOT } from '../stack/config';
import { LambdaRunError } from './errors';

/**
 * A function as the synthesized template deploys it: what Lambda reads from `AWS::Lambda::Function` (handler,
 * runtime, architectures, timeout, memory, environment) and the asset directory CDK uploads as its code. Read from
 * `cdk synth`'s output, never from a copy of the config, so what runs locally is what `cdk deploy` would create.
 */
export interface FunctionDefinition {
  processor: FunctionName;
  logicalId: string;
  functionName: string;
  handler: string;
  runtime: string;
  architectures: string[];
  timeoutSeconds: number;
  memorySizeMb: number;
  /** The variables with a literal value, as Lambda sets them. */
  environment: Record<string, string>;
  /** The variables CloudFormation resolves at deploy time (a Ref, GetAtt, Join): a local run must supply them. */
  deployTimeValues: Record<string, unknown>;
  /** `cdk.out/asset.<hash>`: the directory CDK zips and uploads, extracted by Lambda into /var/task. */
  assetDir: string;
  /** Its Kafka event-source mapping, as the template deploys it. */
  mapping: MappingDefinition;
}

/**
 * A function's `AWS::Lambda::EventSourceMapping` as Lambda reads it: a property the template leaves out takes AWS's
 * default (for a Kafka mapping: BatchSize 100, a 500 ms batching window, retries -1 = infinite, no record age limit,
 * no split; "CreateEventSourceMapping", lambda/latest/api).
 */
export interface MappingDefinition {
  topic: string;
  batchSize: number;
  batchingWindowMs: number;
  controls: MappingSettings['controls'];
  reportBatchItemFailures: boolean;
  /** The kind of DestinationConfig.OnFailure's target, read from its ARN or the resource it refers to. */
  onFailure?: 's3' | 'sqs' | 'sns' | 'kafka';
  /** Set when the mapping validates values against a schema registry (SchemaRegistryConfig.EventRecordFormat). */
  eventRecordFormat?: EventRecordFormat;
}

interface MappingResource {
  Type: string;
  Properties: {
    Topics?: string[];
    BatchSize?: number;
    MaximumBatchingWindowInSeconds?: number;
    MaximumRetryAttempts?: number;
    MaximumRecordAgeInSeconds?: number;
    BisectBatchOnFunctionError?: boolean;
    FunctionResponseTypes?: string[];
    DestinationConfig?: { OnFailure?: { Destination?: unknown } };
    AmazonManagedKafkaEventSourceConfig?: KafkaSourceConfig;
    SelfManagedKafkaEventSourceConfig?: KafkaSourceConfig;
    Tags?: { Key: string; Value: string }[];
  };
}

interface KafkaSourceConfig {
  SchemaRegistryConfig?: { EventRecordFormat?: EventRecordFormat };
}

const DESTINATION_TYPES: Record<string, MappingDefinition['onFailure']> = {
  'AWS::S3::Bucket': 's3',
  'AWS::SQS::Queue': 'sqs',
  'AWS::SNS::Topic': 'sns',
};

/** What kind of destination a DestinationConfig names: a literal ARN or `kafka://`, or a Ref/GetAtt of a resource. */
function destinationKind(
  destination: unknown,
  resources: Record<string, { Type: string }>,
): MappingDefinition['onFailure'] {
  if (destination === undefined || destination === '') return undefined;
  if (typeof destination === 'string') {
    if (destination.startsWith('kafka://')) return 'kafka';
    const service = destination.split(':')[2];
    if (service === 's3' || service === 'sqs' || service === 'sns') return service;
  } else {
    const ref = destination as { Ref?: string; 'Fn::GetAtt'?: [string, string] };
    const logicalId = ref.Ref ?? ref['Fn::GetAtt']?.[0];
    const kind = logicalId ? DESTINATION_TYPES[resources[logicalId]?.Type ?? ''] : undefined;
    if (kind) return kind;
  }
  throw new LambdaRunError(
    'LAMBDA_TEMPLATE_INVALID',
    `an on-failure destination of no known kind: ${JSON.stringify(destination)}`,
  );
}

function mappingOf(resource: MappingResource, resources: Record<string, { Type: string }>): MappingDefinition {
  const p = resource.Properties;
  const [topic] = p.Topics ?? [];
  if (!topic) throw new LambdaRunError('LAMBDA_TEMPLATE_INVALID', 'an event-source mapping with no topic');
  return {
    topic,
    batchSize: p.BatchSize ?? 100,
    batchingWindowMs: p.MaximumBatchingWindowInSeconds === undefined ? 500 : p.MaximumBatchingWindowInSeconds * 1000,
    controls: {
      maximumRetryAttempts: p.MaximumRetryAttempts ?? -1,
      maximumRecordAgeSeconds: p.MaximumRecordAgeInSeconds ?? -1,
      bisectBatchOnFunctionError: p.BisectBatchOnFunctionError ?? false,
    },
    reportBatchItemFailures: (p.FunctionResponseTypes ?? []).includes('ReportBatchItemFailures'),
    onFailure: destinationKind(p.DestinationConfig?.OnFailure?.Destination, resources),
    eventRecordFormat: (p.AmazonManagedKafkaEventSourceConfig ?? p.SelfManagedKafkaEventSourceConfig)
      ?.SchemaRegistryConfig?.EventRecordFormat,
  };
}

/** Runs `cdk synth` (the CLI, the project's cdk.json) into `outdir`; resolves to the cloud assembly directory. */
export async function cdkSynth(outdir: string): Promise<string> {
  const args = ['synth', '--quiet', '-o', outdir];
  try {
    await promisify(execFile)(path.join(REPO_ROOT, 'node_modules/.bin/cdk'), args, {
      cwd: REPO_ROOT,
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (error) {
    const e = error as { stderr?: string };
    throw new LambdaRunError('LAMBDA_SYNTH_FAILED', `cdk ${args.join(' ')} failed:\n${(e.stderr ?? '').trim()}`, {
      cause: error,
    });
  }
  return outdir;
}

interface Manifest {
  artifacts: Record<string, { type: string; properties?: { templateFile?: string } }>;
}

interface LambdaResource {
  Type: string;
  Metadata?: Record<string, unknown>;
  Properties: {
    FunctionName?: string;
    Handler?: string;
    Runtime?: string;
    Architectures?: string[];
    Timeout?: number;
    MemorySize?: number;
    Tags?: { Key: string; Value: string }[];
    Environment?: { Variables?: Record<string, unknown> };
  };
}

/**
 * The processor functions of the cloud assembly's stack, by processor (the `processor` tag infra/processor.ts sets):
 * the ones the stack deploys, which may be fewer than the catalog's (PipelineStackProps.functions).
 */
export function readFunctions(cloudAssembly: string): Map<FunctionName, FunctionDefinition> {
  const manifest = JSON.parse(readFileSync(path.join(cloudAssembly, 'manifest.json'), 'utf8')) as Manifest;
  const templates = Object.values(manifest.artifacts)
    .filter((a) => a.type === 'aws:cloudformation:stack' && a.properties?.templateFile)
    .map((a) => path.join(cloudAssembly, a.properties?.templateFile ?? ''));
  const [templateFile] = templates;
  if (templates.length !== 1 || !templateFile)
    throw new LambdaRunError(
      'LAMBDA_TEMPLATE_INVALID',
      `${cloudAssembly}: expected one stack, found ${templates.length}`,
    );
  const template = JSON.parse(readFileSync(templateFile, 'utf8')) as { Resources: Record<string, LambdaResource> };
  const mappings = new Map<string, MappingDefinition>();
  for (const resource of Object.values(template.Resources)) {
    if (resource.Type !== 'AWS::Lambda::EventSourceMapping') continue;
    const tagged = (resource as MappingResource).Properties.Tags?.find((t) => t.Key === 'processor')?.Value;
    if (tagged) mappings.set(tagged, mappingOf(resource as MappingResource, template.Resources));
  }

  const functions = new Map<FunctionName, FunctionDefinition>();
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    if (resource.Type !== 'AWS::Lambda::Function') continue;
    const p = resource.Properties;
    const processor = p.Tags?.find((t) => t.Key === 'processor')?.Value as FunctionName | undefined;
    if (!processor || !FUNCTIONS.includes(processor)) continue; // CDK's own helper functions, if any
    const asset = resource.Metadata?.['aws:asset:path'];
    const mapping = mappings.get(processor);
    if (typeof asset !== 'string' || !p.Handler || !p.Runtime || !p.Timeout || !p.MemorySize || !mapping)
      throw new LambdaRunError(
        'LAMBDA_TEMPLATE_INVALID',
        `${templateFile}: ${logicalId} lacks its asset path, Handler, Runtime, Timeout, MemorySize or event-source mapping`,
      );
    const environment: Record<string, string> = {};
    const deployTimeValues: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(p.Environment?.Variables ?? {})) {
      if (typeof value === 'string') environment[name] = value;
      else deployTimeValues[name] = value;
    }
    functions.set(processor, {
      processor,
      logicalId,
      functionName: p.FunctionName ?? logicalId,
      handler: p.Handler,
      runtime: p.Runtime,
      architectures: p.Architectures ?? ['x86_64'],
      timeoutSeconds: p.Timeout,
      memorySizeMb: p.MemorySize,
      environment,
      deployTimeValues,
      assetDir: path.join(cloudAssembly, asset),
      mapping,
    });
  }
  if (functions.size === 0)
    throw new LambdaRunError(
      'LAMBDA_TEMPLATE_INVALID',
      `${templateFile}: no function tagged processor=<a catalog name>`,
    );
  return functions;
}
