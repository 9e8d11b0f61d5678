import { setTimeout as sleep } from 'node:timers/promises';
import { Producer } from '@platformatic/kafka';
import { NAVIGATION_V3 } from '../../functions/topics/navigation';
import { AvroEncoder, type ConfluentSchemaRegistry } from '../../lib/codec';
import {
  type DemoRecord,
  demoRecords,
  ensureTopics,
  type NavigationWriter,
  registerDemoSchemas,
  type StreamPlan,
} from '../demo/stream';

/** Every record carries its place in the ledger: how the accounting maps an offset to what was produced. */
export const SEQ_HEADER = 'chaos.seq';

/** A fourth navigation writer, registered at the start and first used while the registry is down. */
const NAVIGATION_V4 = {
  ...(NAVIGATION_V3 as { fields: unknown[] }),
  fields: [
    ...(NAVIGATION_V3 as { fields: unknown[] }).fields,
    { name: 'experiment', type: ['null', 'string'], default: null },
  ],
};

export interface ChaosStreamPlan extends StreamPlan {
  /** Seconds over which the records are produced, evenly: the faults meet a stream in flight. */
  seconds: number;
  /** Event time of the first record (also its Kafka timestamp, as every record's). */
  startTime: number;
}

/**
 * Produces the demo stream at a steady pace, every record stamped with its event time and its ledger index, and
 * keeps the ledger: the ground truth the accounting checks the pipeline against. A send the broker refuses (it is
 * being restarted or was killed) is sent again until it is accepted: a record may land twice, never not at all.
 * `useLateWriter()` switches navigation to a writer version nobody has read yet.
 */
export class ChaosStream {
  readonly ledger: DemoRecord[] = [];
  produced = 0;
  resends = 0;
  /** The run has ended: every record sent, or it failed. */
  finished = false;
  private late = false;

  constructor(
    private readonly plan: ChaosStreamPlan,
    private readonly deps: { bootstrapBrokers: string[]; registry: ConfluentSchemaRegistry },
  ) {}

  useLateWriter(): void {
    this.late = true;
  }

  async run(): Promise<void> {
    const { plan, deps } = this;
    await ensureTopics(deps.bootstrapBrokers, [plan.topics.navigation, plan.topics.identity], plan.partitions);
    const encoder = new AvroEncoder(deps.registry);
    const writers = await registerDemoSchemas(encoder, plan.topics);
    const v4 = (await encoder.forSubject(
      `${plan.topics.navigation}-value`,
      NAVIGATION_V4 as never,
    )) as NavigationWriter;
    const records = demoRecords(plan, {
      ...writers,
      navigationWriter: () => (this.late ? v4 : (writers.navigation[2] as NavigationWriter)),
    });
    const total = plan.navigation + plan.identity;
    const chunkSize = Math.max(1, Math.ceil(total / (plan.seconds * 4))); // four sends a second
    const started = Date.now();
    let producer = this.producer();
    try {
      for (let sent = 0; sent < total; ) {
        const chunk: DemoRecord[] = [];
        while (chunk.length < chunkSize) {
          const next = records.next(); // not for-of: leaving it would close the generator
          if (next.done) break;
          chunk.push(next.value);
        }
        if (chunk.length === 0) break;
        const messages = chunk.map((record, i) => ({
          topic: record.topic,
          key: record.key,
          value: record.value,
          timestamp: BigInt(record.event.eventTime),
          headers: new Map([[Buffer.from(SEQ_HEADER), Buffer.from(String(this.ledger.length + i))]]),
        }));
        for (;;) {
          try {
            await producer.send({ messages });
            break;
          } catch {
            this.resends++;
            await producer.close().catch(() => {});
            await sleep(1_000);
            producer = this.producer();
          }
        }
        this.ledger.push(...chunk);
        sent += chunk.length;
        this.produced = sent;
        const due = started + (sent / total) * plan.seconds * 1000;
        if (due > Date.now()) await sleep(due - Date.now());
      }
    } finally {
      this.finished = true;
      await producer.close().catch(() => {});
    }
  }

  /**
   * Not idempotent: @platformatic/kafka 1.35's idempotent producer never settles a send when no broker answers.
   * acks=all and a request timeout instead; a send that times out is sent again (a record may land twice).
   */
  private producer(): Producer {
    return new Producer({
      clientId: 'chaos-producer',
      bootstrapBrokers: this.deps.bootstrapBrokers,
      acks: -1,
      timeout: 5_000,
    });
  }
}
