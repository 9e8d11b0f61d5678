import type { Producer } from '@platformatic/kafka';
import { type Env, flag, integer, list, oneOf, requireString } from '../config';
import { AppError, ConfigError } from '../errors';
import { CredentialsSource, type SecretsClient } from '../scylla/credentials';
import type { DeadLetter, DeadLetterSink } from './dead-letters';

export type KafkaSaslConfig =
  | { mechanism: 'none' }
  /** MSK IAM: OAUTHBEARER tokens signed with the function role (aws-msk-iam-sasl-signer-js). */
  | { mechanism: 'msk-iam'; region: string }
  | {
      mechanism: 'SCRAM-SHA-512' | 'SCRAM-SHA-256' | 'PLAIN';
      credentials: () => Promise<{ username: string; password: string }>;
    };

export interface KafkaDeadLetterConfig {
  brokers: string[];
  topic: string;
  tls: boolean;
  sasl: KafkaSaslConfig;
  /** Per produce request. */
  timeoutMs: number;
}

/** How the Kafka dead-letter sink authenticates (DEAD_LETTER_KAFKA_AUTH). */
const KAFKA_AUTH = ['none', 'msk-iam', 'SCRAM-SHA-512', 'SCRAM-SHA-256', 'PLAIN'] as const;

/**
 * DEAD_LETTER_TOPIC on DEAD_LETTER_KAFKA_BROKERS, DEAD_LETTER_KAFKA_TLS (on), DEAD_LETTER_KAFKA_AUTH none | msk-iam |
 * SCRAM-SHA-512 | SCRAM-SHA-256 | PLAIN with DEAD_LETTER_KAFKA_SECRET_ID holding {"username","password"},
 * DEAD_LETTER_KAFKA_TIMEOUT_MS (10000): read by the functions and by `npm run dlq`.
 */
export function parseKafkaDeadLetterConfig(env: Env, secrets?: SecretsClient): KafkaDeadLetterConfig {
  const mechanism = oneOf(env, 'DEAD_LETTER_KAFKA_AUTH', KAFKA_AUTH, 'none');
  let sasl: KafkaSaslConfig = { mechanism: 'none' };
  if (mechanism === 'msk-iam') sasl = { mechanism, region: requireString(env, 'AWS_REGION') };
  else if (mechanism !== 'none') {
    const source = new CredentialsSource(
      { source: 'secrets-manager', secretId: requireString(env, 'DEAD_LETTER_KAFKA_SECRET_ID') },
      secrets,
    );
    sasl = {
      mechanism,
      credentials: async () => {
        const credentials = await source.get();
        if (!credentials) throw new ConfigError('DEAD_LETTER_KAFKA_SECRET_ID', 'holds no username and password');
        return credentials;
      },
    };
  }
  return {
    brokers: list(env, 'DEAD_LETTER_KAFKA_BROKERS'),
    topic: requireString(env, 'DEAD_LETTER_TOPIC'),
    tls: flag(env, 'DEAD_LETTER_KAFKA_TLS', true),
    sasl,
    timeoutMs: integer(env, 'DEAD_LETTER_KAFKA_TIMEOUT_MS', 10_000, { min: 100, max: 120_000 }),
  };
}

/** The @platformatic/kafka client options (brokers, TLS, SASL) for the dead-letter topic's cluster. */
export async function kafkaConnectionOptions(config: KafkaDeadLetterConfig) {
  const { brokers, tls, sasl } = config;
  const base = { bootstrapBrokers: brokers, ...(tls ? { tls: {} } : {}) };
  if (sasl.mechanism === 'none') return base;
  if (sasl.mechanism === 'msk-iam') {
    const { generateAuthToken } = await import('aws-msk-iam-sasl-signer-js');
    const region = sasl.region;
    return {
      ...base,
      sasl: {
        mechanism: 'OAUTHBEARER' as const,
        // A fresh token per authentication: they expire after 15 minutes, connections outlive that.
        token: async () => (await generateAuthToken({ region })).token,
      },
    };
  }
  const { username, password } = await sasl.credentials();
  return { ...base, sasl: { mechanism: sasl.mechanism, username, password } };
}

/** Header names: the dead letter's metadata travels with the untouched key and value bytes. */
export const DEAD_LETTER_HEADERS = {
  reason: 'dlq.reason',
  message: 'dlq.message',
  function: 'dlq.function',
  topic: 'dlq.topic',
  partition: 'dlq.partition',
  offset: 'dlq.offset',
  timestamp: 'dlq.timestamp',
} as const;
/** Only on the dead letter of a value the mapping decoded (SOURCE, JSON): its `valueSchemaMetadata` as JSON. */
export const VALUE_SCHEMA_HEADER = 'dlq.value-schema';

const HEADER_NAMES = Object.entries(DEAD_LETTER_HEADERS).map(
  ([field, name]) => [field as keyof typeof DEAD_LETTER_HEADERS, Buffer.from(name)] as const,
);

function headersOf(e: DeadLetter): Map<Buffer, Buffer> {
  const values: Record<keyof typeof DEAD_LETTER_HEADERS, string> = {
    reason: e.reason,
    message: e.message,
    function: e.functionName,
    topic: e.topic,
    partition: String(e.partition),
    offset: String(e.offset),
    timestamp: String(e.timestamp),
  };
  const headers = new Map(HEADER_NAMES.map(([field, name]) => [name, Buffer.from(values[field])]));
  if (e.valueSchemaMetadata !== null)
    headers.set(Buffer.from(VALUE_SCHEMA_HEADER), Buffer.from(JSON.stringify(e.valueSchemaMetadata)));
  return headers;
}

/**
 * Dead letters to a Kafka topic: each poison record produced again with its original key and value bytes (so a
 * consumer can replay it once fixed, and same-key records stay in one partition) and the reason and origin in
 * `dlq.*` headers, the convention of Kafka Connect's dead-letter queues. Produced with acks=all; a failure rejects
 * transiently, so the batch's partition is retried rather than a record lost. Dead letters are at least once (a
 * retried batch writes its dead letters again), so the producer is not idempotent: @platformatic/kafka 1.35's
 * idempotent producer never settles a send when no broker answers, which would hang the invocation instead.
 *
 * The Kafka client loads on the first dead letter (a chunk of its own in the bundle), and connects then.
 */
export class KafkaDeadLetterSink implements DeadLetterSink {
  private producer: Promise<Producer> | undefined;

  constructor(private readonly config: KafkaDeadLetterConfig) {}

  async write(entries: DeadLetter[]): Promise<void> {
    if (entries.length === 0) return;
    try {
      this.producer ??= this.connect();
      const producer = await this.producer;
      await producer.send({
        messages: entries.map((e) => ({
          topic: this.config.topic,
          key: e.key === null ? undefined : Buffer.from(e.key, 'base64'),
          value: e.value === null ? undefined : Buffer.from(e.value, 'base64'),
          timestamp: BigInt(e.timestamp),
          headers: headersOf(e),
        })),
      });
    } catch (error) {
      // A producer that failed may hold dead connections: the next batch starts from a new one.
      const failed = this.producer;
      this.producer = undefined;
      void failed?.then((p) => p.close()).catch(() => {});
      throw new AppError(
        'DEAD_LETTER_WRITE_FAILED',
        `Kafka topic ${this.config.topic} refused ${entries.length} dead letters: ${(error as Error).message}`,
        { cause: error, transient: true },
      );
    }
  }

  /** Closes the producer (tests, and a container being shut down). */
  async close(): Promise<void> {
    const producer = this.producer;
    this.producer = undefined;
    await (await producer)?.close();
  }

  private async connect(): Promise<Producer> {
    const { Producer } = await import('@platformatic/kafka');
    return new Producer({
      clientId: 'dead-letters',
      acks: -1,
      timeout: this.config.timeoutMs,
      ...(await kafkaConnectionOptions(this.config)),
    });
  }
}
