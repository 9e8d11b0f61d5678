import { type Message, Producer } from '@platformatic/kafka';
import {
  DEAD_LETTER_HEADERS,
  type KafkaDeadLetterConfig,
  kafkaConnectionOptions,
  VALUE_SCHEMA_HEADER,
} from '../../lib/runtime/kafka-dead-letters';
import { readTopic } from '../kafka/read-topic';
import {
  type DeadLetterEntry,
  type DeadLetterFilter,
  type DeadLetterStore,
  matches,
  originOf,
  schemaMetadataOf,
  utcDay,
} from './store';

/** The headers of a replay mark: a record of the dead-letter topic that settles an earlier one. */
const REPLAY_MARK_HEADERS = {
  /** `replayed` or `superseded` (failed again: the function's newer dead letter stands for the record). */
  mark: 'dlq.replay.mark',
  /** `<partition>/<offset>` of the settled dead letter in this topic. */
  of: 'dlq.replay.of',
  run: 'dlq.replay.run',
  at: 'dlq.replay.at',
} as const;

/**
 * A Kafka dead-letter topic (`DEAD_LETTER_SINK=kafka`): each dead letter is the record's own key and value with
 * `dlq.*` headers (lib/runtime/kafka-dead-letters). A topic is append-only, so a replay marks an entry by appending
 * a mark (no key, no value, `dlq.replay.*` headers naming the entry's partition and offset): the topic stays the
 * whole history, and every reader of it can tell what was replayed, when and by which run. An entry that failed
 * again is marked `superseded`: the function appended its new dead letter, with the new reason, which stays live.
 * Read from the topic's start to its end at the time of reading (`readTopic`: nothing committed).
 */
export class KafkaDeadLetterStore implements DeadLetterStore {
  readonly description: string;
  /** Per partition of the dead-letter topic: the end read so far. */
  private ends: bigint[] | undefined;
  private readonly connection: Promise<Awaited<ReturnType<typeof kafkaConnectionOptions>>>;
  private producer: Producer | undefined;
  /** Per entry id: the ids of the same record's other copies in the topic (a mapping's destination only). */
  private readonly copies = new Map<string, string[]>();

  constructor(
    private readonly config: KafkaDeadLetterConfig,
    /**
     * How a record of the topic becomes an entry: by default a dead letter of the functions' own; a mapping's Kafka
     * on-failure destination holds one message per failed record (destination-store.ts). With `fromMapping`, what
     * fails again is in the functions' own sink, not here.
     */
    private readonly format: {
      entryOf(topic: string, m: Message): DeadLetterEntry | undefined;
      fromMapping: boolean;
    } = {
      entryOf: letterOf,
      fromMapping: false,
    },
  ) {
    this.description = `${format.fromMapping ? "the mappings' failed records in " : ''}topic ${config.topic} on ${config.brokers.join(',')}`;
    this.connection = kafkaConnectionOptions(config);
  }

  async select(filter: DeadLetterFilter): Promise<DeadLetterEntry[]> {
    return (await this.readAll()).filter((e) => matches(e, filter));
  }

  async find(id: string): Promise<DeadLetterEntry | undefined> {
    return (await this.readAll()).find((e) => e.id === id);
  }

  async failedAgain(entries: readonly DeadLetterEntry[]): Promise<Map<string, string>> {
    if (this.format.fromMapping) return new Map();
    const byOrigin = new Map<string, DeadLetterEntry[]>();
    for (const e of entries) byOrigin.set(originOf(e), [...(byOrigin.get(originOf(e)) ?? []), e]);
    const again = new Map<string, string>();
    const from = this.ends as bigint[];
    const { messages, ends } = await this.read(from);
    this.ends = ends;
    for (const m of messages) {
      const letter = letterOf(this.config.topic, m);
      if (!letter) continue;
      for (const e of byOrigin.get(originOf(letter)) ?? []) again.set(e.id, letter.reason);
    }
    return again;
  }

  async settle(replayed: readonly DeadLetterEntry[], superseded: readonly DeadLetterEntry[], run: string) {
    if (replayed.length + superseded.length === 0) return;
    this.producer ??= new Producer({ clientId: 'dlq-marks', acks: -1, ...(await this.connection) });
    const at = new Date().toISOString();
    const mark = (kind: 'replayed' | 'superseded') => (id: string) => {
      const [, partition, offset] = id.split('/').slice(-3);
      return {
        topic: this.config.topic,
        headers: new Map(
          [
            [REPLAY_MARK_HEADERS.mark, kind],
            [REPLAY_MARK_HEADERS.of, `${partition}/${offset}`],
            [REPLAY_MARK_HEADERS.run, run],
            [REPLAY_MARK_HEADERS.at, at],
          ].map(([name, value]) => [Buffer.from(name as string), Buffer.from(value as string)]),
        ),
      };
    };
    const ids = (entries: readonly DeadLetterEntry[]) =>
      entries.flatMap((e) => [e.id, ...(this.copies.get(e.id) ?? [])]);
    await this.producer.send({
      messages: [...ids(replayed).map(mark('replayed')), ...ids(superseded).map(mark('superseded'))],
    });
  }

  async close(): Promise<void> {
    await this.producer?.close();
  }

  /** Every live dead letter of the topic (superseded ones are history), with its replay mark if it has one. */
  private async readAll(): Promise<DeadLetterEntry[]> {
    const { messages, ends } = await this.read(undefined);
    this.ends = ends;
    const letters = new Map<string, DeadLetterEntry>();
    const marks = new Map<string, { kind: string; run: string; at: string }>();
    for (const m of messages) {
      const headers = headersOf(m);
      const of = headers[REPLAY_MARK_HEADERS.of];
      if (of !== undefined) {
        marks.set(`${this.config.topic}/${of}`, {
          kind: headers[REPLAY_MARK_HEADERS.mark] ?? '',
          run: headers[REPLAY_MARK_HEADERS.run] ?? '',
          at: headers[REPLAY_MARK_HEADERS.at] ?? '',
        });
        continue;
      }
      const letter = this.format.entryOf(this.config.topic, m);
      if (letter) letters.set(letter.id, letter);
    }
    const out: DeadLetterEntry[] = [];
    const byOrigin = new Map<string, DeadLetterEntry>();
    this.copies.clear();
    for (const letter of letters.values()) {
      const mark = marks.get(letter.id);
      if (mark?.kind === 'superseded') continue;
      if (mark) Object.assign(letter, { replayedAt: new Date(mark.at), replayedBy: mark.run });
      // A mapping's destination is written at least once: a record it holds twice is one entry, its copies marked
      // with it.
      const first = this.format.fromMapping ? byOrigin.get(originOf(letter)) : undefined;
      if (first) {
        this.copies.set(first.id, [...(this.copies.get(first.id) ?? []), letter.id]);
        if (!letter.replayedAt) Object.assign(first, { replayedAt: null, replayedBy: null });
        continue;
      }
      byOrigin.set(originOf(letter), letter);
      out.push(letter);
    }
    return out;
  }

  private async read(from: bigint[] | undefined): Promise<{ messages: Message[]; ends: bigint[] }> {
    return readTopic(await this.connection, this.config.topic, from);
  }
}

function headersOf(m: Message): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of m.headers) out[name.toString()] = value.toString();
  return out;
}

/** A dead letter the sink produced (a record with the `dlq.*` headers), or undefined for anything else. */
function letterOf(topic: string, m: Message): DeadLetterEntry | undefined {
  const h = headersOf(m);
  const functionName = h[DEAD_LETTER_HEADERS.function];
  if (functionName === undefined) return undefined;
  const timestamp = Number(h[DEAD_LETTER_HEADERS.timestamp] ?? m.timestamp);
  return {
    id: `${topic}/${m.partition}/${m.offset}`,
    functionName,
    topic: h[DEAD_LETTER_HEADERS.topic] ?? '',
    partition: Number(h[DEAD_LETTER_HEADERS.partition]),
    offset: Number(h[DEAD_LETTER_HEADERS.offset]),
    reason: h[DEAD_LETTER_HEADERS.reason] ?? '',
    message: h[DEAD_LETTER_HEADERS.message] ?? '',
    key: m.key && m.key.length > 0 ? m.key : null,
    value: m.value && m.value.length > 0 ? m.value : null,
    recordTimestamp: new Date(timestamp),
    valueSchemaMetadata: schemaMetadataOf(h[VALUE_SCHEMA_HEADER]),
    day: utcDay(timestamp),
    replayedAt: null,
    replayedBy: null,
  };
}
