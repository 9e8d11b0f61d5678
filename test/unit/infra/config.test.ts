import { describe, expect, it } from 'vitest';
import { loadPipelineConfig, parsePipelineConfig } from '../../../infra/config';
import { ConfigError } from '../../../lib/errors';
import { exampleConfig } from './synth';

const parse = (raw: unknown) => parsePipelineConfig(raw, 'infra/environments/test.json');
const failure = (raw: unknown): ConfigError => {
  try {
    parse(raw);
  } catch (error) {
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
};

describe('pipeline config', () => {
  it('loads the example environment with defaults filled in', () => {
    const config = loadPipelineConfig('example');
    expect(config.name).toBe('pipeline-example');
    expect(config.functions['identity-linker']).toMatchObject({
      timeoutSeconds: 120,
      batchingWindowSeconds: 1,
      startingPosition: 'TRIM_HORIZON',
      retryAttempts: -1,
      reportBatchItemFailures: true,
      maxInFlight: 128,
    });
    expect(config.metrics.namespace).toBe('KafkaProcessors');
    expect(config.esmFailureDestination).toBe('none');
    expect(config.rideOutOutageMinutes).toBe(10);
  });

  it('deploys a catalog function the environment does not name, on its catalog topic, provisioned, with every default', () => {
    const raw = exampleConfig() as { functions: Record<string, unknown> };
    delete raw.functions['segment-builder'];
    expect(parse(raw).functions['segment-builder']).toMatchObject({
      topic: 'navigation',
      provisionedPollers: { minimum: 1, maximum: 10 },
      memoryMb: 1024,
      batchSize: 2_000,
      retryAttempts: -1,
      reportBatchItemFailures: true,
    });
  });

  it('names the file and the path of every bad value', () => {
    const raw = exampleConfig();
    raw.region = 'europe';
    (raw.kafka as Record<string, unknown>).clusterArn = 'arn:aws:s3:::bucket';
    raw.functions['segment-builder'].timeoutSeconds = 900;
    const error = failure(raw);
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.key).toBe('infra/environments/test.json');
    expect(error.message).toContain('region');
    expect(error.message).toContain('kafka.clusterArn');
    expect(error.message).toContain('functions.segment-builder.timeoutSeconds');
  });

  it('refuses Kafka error-handling controls without provisioned pollers, as AWS does', () => {
    const raw = exampleConfig();
    delete raw.functions['identity-linker'].provisionedPollers;
    expect(failure(raw).message).toMatch(/functions\.identity-linker\.provisionedPollers[\s\S]*provisioned mode/);
    raw.functions['identity-linker'] = {
      topic: 'identity-links',
      reportBatchItemFailures: false,
      retryAttempts: -1,
    };
    expect(parse(raw).functions['identity-linker'].provisionedPollers).toBeUndefined();
  });

  it("refuses a mapping schema registry without provisioned mode or without the environment's registry of that kind", () => {
    // AWS, "Using schema registries with Kafka event sources in Lambda": provisioned mode only.
    const raw = exampleConfig();
    raw.functions['identity-linker'] = { topic: 'identity-links', reportBatchItemFailures: false };
    raw.functions['identity-linker'].mappingSchemaRegistry = { registry: 'glue', eventRecordFormat: 'SOURCE' };
    const message = failure(raw).message;
    expect(message).toMatch(/functions\.identity-linker\.provisionedPollers[\s\S]*schema registry/);
    expect(message).toMatch(/functions\.identity-linker\.mappingSchemaRegistry[\s\S]*glueRegistryArn/);
    const confluent = exampleConfig();
    confluent.functions['navigation-enricher'].mappingSchemaRegistry = {
      registry: 'confluent',
      eventRecordFormat: 'JSON',
      basicAuthSecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:registry-AbCdEf',
    };
    expect(parse(confluent).functions['navigation-enricher'].mappingSchemaRegistry).toMatchObject({
      eventRecordFormat: 'JSON',
    });
    (confluent.schemaRegistry as { urls: string[] }).urls = [];
    (confluent.schemaRegistry as { glueRegistryArn?: string }).glueRegistryArn =
      'arn:aws:glue:eu-west-1:123456789012:registry/events';
    expect(failure(confluent).message).toMatch(/mappingSchemaRegistry[\s\S]*schemaRegistry\.urls/);
  });

  it('requires a timestamp with AT_TIMESTAMP and only then', () => {
    const raw = exampleConfig();
    raw.functions['navigation-enricher'].startingPosition = 'AT_TIMESTAMP';
    expect(failure(raw).message).toContain('startingPositionTimestamp');
    raw.functions['navigation-enricher'].startingPositionTimestamp = 1_790_000_000;
    expect(parse(raw).functions['navigation-enricher'].startingPositionTimestamp).toBe(1_790_000_000);
  });

  it('requires the SCRAM secret for MSK SASL/SCRAM and a registry of some kind', () => {
    const raw = exampleConfig();
    (raw.kafka as Record<string, unknown>).authentication = 'sasl-scram';
    expect(failure(raw).message).toContain('kafka.saslScramSecretArn');
    const noRegistry = exampleConfig();
    noRegistry.schemaRegistry = { urls: [] };
    expect(failure(noRegistry).message).toContain('schemaRegistry');
  });

  it("refuses an MSK cluster outside the stack's region, or account when the config names one", () => {
    const raw = exampleConfig();
    raw.region = 'us-east-1';
    expect(failure(raw).message).toContain('kafka.clusterArn: is in eu-west-1, the stack in us-east-1');
    raw.region = 'eu-west-1';
    raw.account = '444455556666';
    expect(failure(raw).message).toContain(
      'kafka.clusterArn: belongs to account 111122223333, the stack to 444455556666',
    );
    raw.account = '111122223333';
    expect(parse(raw).account).toBe('111122223333');
  });

  it('refuses an environment name that is not a plain name, and a missing file', () => {
    expect(() => loadPipelineConfig('../secrets')).toThrow(ConfigError);
    expect(() => loadPipelineConfig('nowhere')).toThrow(/no file/);
  });
});
