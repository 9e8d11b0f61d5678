import type avro from 'avsc';
import {
  AvroReader,
  ConfluentSchemaRegistry,
  GlueSchemaRegistry,
  parseConfluentRegistryConfig,
  SchemaCache,
  SchemaRegistries,
} from '../codec';
import { type Env, flag, integer, oneOf, optionalString, requireString } from '../config';
import { lazy } from '../lazy';
import { MetricsPublisher, parseMetricsConfig } from '../metrics';
import { parseScyllaConfig } from '../scylla/config';
import { CredentialsSource } from '../scylla/credentials';
import { WriteExecutor } from '../scylla/executor';
import { ScyllaSession } from '../scylla/session';
import { type DeadLetterSink, ScyllaDeadLetterSink, SqsDeadLetterSink } from './dead-letters';
import { KafkaDeadLetterSink, parseKafkaDeadLetterConfig } from './kafka-dead-letters';
import { createProcessor, type ProcessorDefinition } from './processor';

/**
 * The composition point of a function: reads and validates its whole configuration once (cold start), builds the
 * clients it keeps in module scope (they connect lazily, on first use), and returns the Lambda handler.
 *
 * Besides SCYLLA_* (lib/scylla/config) and METRICS_* (lib/metrics/publisher): SCHEMA_REGISTRY_URLS (comma
 * separated; SCHEMA_REGISTRY_BASIC_AUTH "user:secret" or SCHEMA_REGISTRY_BEARER_TOKEN), SCHEMA_REGISTRY_GLUE=on
 * (AWS Glue Schema Registry for Glue-framed records), REPORT_BATCH_ITEM_FAILURES (on), DEADLINE_MARGIN_MS (5000),
 * DEAD_LETTER_SINK (scylla: the dead_letters table; sqs: DEAD_LETTER_QUEUE_URL; kafka: a topic, see
 * `parseKafkaDeadLetterConfig`). Switches take
 * true/false, on/off, yes/no or 1/0 (`flag` in lib/config).
 */
export function composeProcessor<T, P>(
  definition: ProcessorDefinition<T, P>,
  /** What `process` reads; undefined: each value as its writer wrote it (the table sink, which names fields). */
  readerSchema: avro.Schema | undefined,
  env: Env,
) {
  const scylla = parseScyllaConfig(env);
  const functionName = optionalString(env, 'FUNCTION_NAME') ?? definition.name;
  const metrics = new MetricsPublisher(parseMetricsConfig({ FUNCTION_NAME: definition.name, ...env }));
  const kafkaSecret = optionalString(env, 'DEAD_LETTER_KAFKA_SECRET_ID');
  const needsSecrets =
    scylla.credentials.source === 'secrets-manager' || (scylla.tls.enabled && scylla.tls.caSecretId) || kafkaSecret;
  const secrets = needsSecrets
    ? lazy(async () => new (await import('@aws-sdk/client-secrets-manager')).SecretsManagerClient({}))
    : undefined;
  const session = new ScyllaSession(scylla, new CredentialsSource(scylla.credentials, secrets), secrets, {
    events: metrics.instruments.sessionEvents(),
  });
  const executor = new WriteExecutor(session, scylla.maxInFlight, metrics.instruments.executorMetrics());

  const registry = parseConfluentRegistryConfig(env);
  const confluent = registry ? new ConfluentSchemaRegistry(registry) : undefined;
  const glue = flag(env, 'SCHEMA_REGISTRY_GLUE', false)
    ? new GlueSchemaRegistry(lazy(async () => new (await import('@aws-sdk/client-glue')).GlueClient({})))
    : undefined;
  const schemas = new SchemaCache(new SchemaRegistries({ confluent, glue }));
  let deadLetters: DeadLetterSink;
  switch (oneOf(env, 'DEAD_LETTER_SINK', ['scylla', 'sqs', 'kafka'], 'scylla')) {
    case 'sqs':
      deadLetters = new SqsDeadLetterSink(
        requireString(env, 'DEAD_LETTER_QUEUE_URL'),
        lazy(async () => new (await import('@aws-sdk/client-sqs')).SQSClient({})),
      );
      break;
    case 'kafka':
      deadLetters = new KafkaDeadLetterSink(parseKafkaDeadLetterConfig(env, secrets));
      break;
    default:
      deadLetters = new ScyllaDeadLetterSink(executor);
  }

  return createProcessor(definition, {
    reader: new AvroReader<T>(schemas, readerSchema),
    schemas,
    executor,
    deadLetters,
    metrics,
    // Its level from POWERTOOLS_LOG_LEVEL or Lambda's own log-level setting (AWS_LAMBDA_LOG_LEVEL).
    logger: lazy(
      async () =>
        new (await import('@aws-lambda-powertools/logger')).Logger({
          serviceName: 'kafka-processors',
          persistentKeys: { function: functionName },
        }),
    ),
    reportBatchItemFailures: flag(env, 'REPORT_BATCH_ITEM_FAILURES', true),
    deadlineMarginMs: integer(env, 'DEADLINE_MARGIN_MS', 5_000, { min: 0, max: 600_000 }),
  });
}
