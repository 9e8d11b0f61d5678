import type { ScyllaSession } from '../../lib/scylla/session';
import { statement } from '../../lib/scylla/statement';
import {
  type DeadLetterEntry,
  type DeadLetterFilter,
  type DeadLetterStore,
  MS_PER_DAY,
  schemaMetadataOf,
  utcDay,
} from './store';

const SELECT = statement(
  'dlq.select',
  `SELECT function_name, day, topic, partition, offset, reason, message, key, value, recorded_at, record_timestamp,
     value_schema, replayed_at, replayed_by FROM dead_letters WHERE function_name = ? AND day = ?`,
  { idempotent: true },
);
const MARK = statement(
  'dlq.mark',
  `UPDATE dead_letters SET replayed_at = ?, replayed_by = ?
   WHERE function_name = ? AND day = ? AND topic = ? AND partition = ? AND offset = ?`,
  { idempotent: true },
);

/**
 * The `dead_letters` table (the default sink): one partition per function and UTC day of the record. An entry is
 * marked in place (replayed_at, replayed_by); a record that fails again is written again by the function over the
 * same row, with its new reason and a new `recorded_at`: that is how a replay sees it failed.
 */
export class TableDeadLetterStore implements DeadLetterStore {
  readonly description: string;
  /** `recorded_at` of each entry as selected, by id. */
  private readonly recordedAt = new Map<string, number>();

  constructor(
    private readonly session: ScyllaSession,
    keyspace: string,
  ) {
    this.description = `table ${keyspace}.dead_letters`;
  }

  async select(filter: DeadLetterFilter): Promise<DeadLetterEntry[]> {
    const out: DeadLetterEntry[] = [];
    for (const functionName of filter.functions) {
      for (let t = filter.firstDay; t <= filter.lastDay; t += MS_PER_DAY) {
        for (const e of await this.partition(functionName, utcDay(t)))
          if (filter.reason === undefined || e.reason === filter.reason) out.push(e);
      }
    }
    return out;
  }

  async find(id: string): Promise<DeadLetterEntry | undefined> {
    const [functionName, day, topic, partition, offset] = id.split('/');
    if (!functionName || !day || !topic || partition === undefined || offset === undefined)
      throw new Error(`a table dead letter is named <function>/<day>/<topic>/<partition>/<offset>, not ${id}`);
    return (await this.partition(functionName, day)).find((e) => e.id === id);
  }

  async failedAgain(entries: readonly DeadLetterEntry[]): Promise<Map<string, string>> {
    const again = new Map<string, string>();
    const ids = new Set(entries.map((e) => e.id));
    const partitions = new Set(entries.map((e) => `${e.functionName}\n${e.day}`));
    for (const p of partitions) {
      const [functionName, day] = p.split('\n') as [string, string];
      const before = new Map(this.recordedAt);
      for (const now of await this.partition(functionName, day)) {
        const was = before.get(now.id);
        if (ids.has(now.id) && was !== this.recordedAt.get(now.id)) again.set(now.id, now.reason);
      }
    }
    return again;
  }

  async settle(replayed: readonly DeadLetterEntry[], _superseded: readonly DeadLetterEntry[], run: string) {
    const at = new Date();
    for (const e of replayed)
      await this.session.execute(MARK, [at, run, e.functionName, e.day, e.topic, e.partition, e.offset]);
  }

  async close(): Promise<void> {}

  private async partition(functionName: string, day: string): Promise<DeadLetterEntry[]> {
    const result = await this.session.execute(SELECT, [functionName, day]);
    return result.rows.map((row) => {
      const entry: DeadLetterEntry = {
        id: `${functionName}/${day}/${row.get('topic')}/${row.get('partition')}/${row.get('offset')}`,
        functionName,
        day,
        topic: row.get('topic'),
        partition: row.get('partition'),
        offset: Number(row.get('offset')),
        reason: row.get('reason'),
        message: row.get('message') ?? '',
        key: row.get('key'),
        value: row.get('value'),
        // Rows written before migration 2 have no record timestamp: their day's midnight.
        recordTimestamp: row.get('record_timestamp') ?? new Date(`${day}T00:00:00Z`),
        valueSchemaMetadata: schemaMetadataOf(row.get('value_schema')),
        replayedAt: row.get('replayed_at'),
        replayedBy: row.get('replayed_by'),
      };
      this.recordedAt.set(entry.id, (row.get('recorded_at') as Date).getTime());
      return entry;
    });
  }
}
