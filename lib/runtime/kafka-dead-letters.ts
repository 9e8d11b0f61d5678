import type { Producer } from '@platformatic/kafka';
import { AppError } from '../errors';
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

const HEADER_NAMES = Object.entries(DEAD_LETTER_HEADERS).map(
  ([field, name]) => [field as keyof typeof DEAD_LETTER_HEADERS, Buffer.from(name)] as const,
);

function headersOf(values: Record<keyof typeof DEAD_LETTER_HEADERS, string>): Map<Buffer, Buffer> {
  return new Map(HEADER_NAMES.map(([field, name]) => [name, Buffer.from(values[field])]));
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
          headers: headersOf({
            reason: e.reason,
            message: e.message,
            function: e.functionName,
            topic: e.topic,
            partition: String(e.partition),
            offset: String(e.offset),
            timestamp: String(e.timestamp),
          }),
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
    const { brokers, tls, timeoutMs } = this.config;
    return new Producer({
      clientId: 'dead-letters',
      bootstrapBrokers: brokers,
      acks: -1,
      timeout: timeoutMs,
      ...(tls ? { tls: {} } : {}),
      ...(await this.sasl()),
    });
  }

  private async sasl() {
    const sasl = this.config.sasl;
    if (sasl.mechanism === 'none') return {};
    if (sasl.mechanism === 'msk-iam') {
      const { generateAuthToken } = await import('aws-msk-iam-sasl-signer-js');
      const region = sasl.region;
      return {
        sasl: {
          mechanism: 'OAUTHBEARER' as const,
          // A fresh token per authentication: they expire after 15 minutes, connections outlive that.
          token: async () => (await generateAuthToken({ region })).token,
        },
      };
    }
    const { username, password } = await sasl.credentials();
    return { sasl: { mechanism: sasl.mechanism, username, password } };
  }
}
