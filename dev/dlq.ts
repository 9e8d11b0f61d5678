import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Producer } from '@platformatic/kafka';
import { Listr } from 'listr2';
import {
  AvroReader,
  CodecError,
  ConfluentSchemaRegistry,
  parseConfluentRegistryConfig,
  parseFrame,
  SchemaCache,
  TOMBSTONE,
} from '../lib/codec';
import { ConfigError } from '../lib/errors';
import type { MskEvent } from '../lib/runtime/msk-event';
import type { BatchResponse } from '../lib/runtime/partitions';
import { parseScyllaConfig } from '../lib/scylla/config';
import { CredentialsSource } from '../lib/scylla/credentials';
import { ScyllaSession } from '../lib/scylla/session';
import { statement } from '../lib/scylla/statement';
import { buildFunction, bundleDir, FUNCTIONS, type FunctionName } from './build';
import { buildMskEvent, type KafkaRecord } from './esm/event';
import { loadStackConfig, localScyllaEnvironment, stackEndpoints } from './stack/config';

/**
 * `npm run dlq -- list | show <id> | replay`: the `dead_letters` table (the default sink) for the people on call.
 *
 * - `list`: counts by function, day and reason (and how many were replayed); filters `--function`, `--reason`,
 *   `--since`, `--until` (UTC days, YYYY-MM-DD; the last 7 days by default).
 * - `show <function>/<day>/<topic>/<partition>/<offset>`: one entry, its value decoded as far as it goes.
 * - `replay --to-topic [--bootstrap host:port,...]`: produces them to their topic and partition instead, for every
 *   consumer to read again.
 * - `replay` (same filters): after a fix (a schema registered late, a rule corrected), runs the entries not yet
 *   replayed through the function's own bundle, as MSK events in offset order per original partition. An entry
 *   that processes is marked (replayed_at, replayed_by: this run), never deleted; one that fails again is
 *   dead-lettered again by the function, with its new reason, and stays unmarked. Replaying twice changes nothing
 *   (marked entries are skipped, and the functions write with event-time timestamps).
 *
 * Target: the SCYLLA_* and SCHEMA_REGISTRY_* settings the functions take; without SCYLLA_CONTACT_POINTS, the local
 * stack (keyspace `pipeline`).
 */

interface Entry {
  functionName: FunctionName;
  day: string;
  topic: string;
  partition: number;
  offset: number;
  reason: string;
  message: string;
  key: Buffer | null;
  value: Buffer | null;
  recordedAt: Date;
  recordTimestamp: Date | null;
  replayedAt: Date | null;
  replayedBy: string | null;
}

type Handler = (event: MskEvent, context?: unknown) => Promise<BatchResponse>;

const MS_PER_DAY = 86_400_000;
const REPLAY_BATCH = 500;

const entryId = (e: Entry) => `${e.functionName}/${e.day}/${e.topic}/${e.partition}/${e.offset}`;

export function targetEnvironment(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) if (value !== undefined) out[key] = value;
  if (!out.SCYLLA_CONTACT_POINTS) {
    const local = stackEndpoints(loadStackConfig());
    Object.assign(out, localScyllaEnvironment(local, out.SCYLLA_KEYSPACE ?? 'pipeline'));
    out.SCHEMA_REGISTRY_URLS ??= local.registryUrl;
  }
  out.METRICS_EMF ??= 'off';
  return out;
}

function days(since: string | undefined, until: string | undefined): string[] {
  const parse = (day: string, flag: string) => {
    const ms = Date.parse(`${day}T00:00:00Z`);
    if (!/^\d{4}-\d{2}-\d{2}$/.test(day) || Number.isNaN(ms)) throw new Error(`${flag} ${day}: expected YYYY-MM-DD`);
    return ms;
  };
  const last = until ? parse(until, '--until') : Math.floor(Date.now() / MS_PER_DAY) * MS_PER_DAY;
  const first = since ? parse(since, '--since') : last - 6 * MS_PER_DAY;
  if (first > last) throw new Error('--since is after --until');
  if ((last - first) / MS_PER_DAY > 366) throw new Error('at most 367 days at a time');
  const out: string[] = [];
  for (let t = first; t <= last; t += MS_PER_DAY) out.push(new Date(t).toISOString().slice(0, 10));
  return out;
}

const SELECT = statement(
  'dlq.select',
  `SELECT function_name, day, topic, partition, offset, reason, message, key, value, recorded_at, record_timestamp,
     replayed_at, replayed_by FROM dead_letters WHERE function_name = ? AND day = ?`,
  { idempotent: true },
);
const MARK = statement(
  'dlq.mark',
  `UPDATE dead_letters SET replayed_at = ?, replayed_by = ?
   WHERE function_name = ? AND day = ? AND topic = ? AND partition = ? AND offset = ?`,
  { idempotent: true },
);

export class DeadLetterStore {
  constructor(private readonly session: ScyllaSession) {}

  async select(filter: { functions: FunctionName[]; days: string[]; reason?: string }): Promise<Entry[]> {
    const out: Entry[] = [];
    for (const functionName of filter.functions) {
      for (const day of filter.days) {
        const result = await this.session.execute(SELECT, [functionName, day]);
        for (const row of result.rows) {
          const entry: Entry = {
            functionName,
            day,
            topic: row.get('topic'),
            partition: row.get('partition'),
            offset: Number(row.get('offset')),
            reason: row.get('reason'),
            message: row.get('message') ?? '',
            key: row.get('key'),
            value: row.get('value'),
            recordedAt: row.get('recorded_at'),
            recordTimestamp: row.get('record_timestamp'),
            replayedAt: row.get('replayed_at'),
            replayedBy: row.get('replayed_by'),
          };
          if (filter.reason === undefined || entry.reason === filter.reason) out.push(entry);
        }
      }
    }
    return out;
  }

  async mark(entry: Entry, at: Date, run: string): Promise<void> {
    await this.session.execute(MARK, [
      at,
      run,
      entry.functionName,
      entry.day,
      entry.topic,
      entry.partition,
      entry.offset,
    ]);
  }
}

export interface ReplayOutcome {
  run: string;
  replayed: number;
  failedAgain: { id: string; reason: string }[];
  /** Entries of a partition at or after a transient failure: left for a later replay. */
  retryLater: number;
  skipped: number;
}

/**
 * Replays `entries` through `handlerFor(function)`, per original partition in offset order, in events of at most
 * REPLAY_BATCH records, and marks what processed. Whether an entry failed again is read back from the table: the
 * function dead-letters it again (a new `recorded_at`, its new reason) rather than reporting it.
 */
export async function replay(
  store: DeadLetterStore,
  entries: Entry[],
  handlerFor: (name: FunctionName) => Promise<Handler>,
  options: { run: string; progress?: (done: number, total: number) => void },
): Promise<ReplayOutcome> {
  const outcome: ReplayOutcome = { run: options.run, replayed: 0, failedAgain: [], retryLater: 0, skipped: 0 };
  const pending = entries.filter((e) => e.replayedAt === null);
  outcome.skipped = entries.length - pending.length;
  const groups = new Map<string, Entry[]>();
  for (const e of pending) {
    const key = `${e.functionName}\n${e.topic}\n${e.partition}`;
    groups.set(key, [...(groups.get(key) ?? []), e]);
  }
  let done = 0;
  for (const group of groups.values()) {
    group.sort((a, b) => a.offset - b.offset);
    const first = group[0] as Entry;
    const handler = await handlerFor(first.functionName);
    for (let i = 0; i < group.length; i += REPLAY_BATCH) {
      const chunk = group.slice(i, i + REPLAY_BATCH);
      const records: KafkaRecord[] = chunk.map((e) => ({
        topic: e.topic,
        partition: e.partition,
        offset: e.offset,
        timestamp: (e.recordTimestamp ?? new Date(`${e.day}T00:00:00Z`)).getTime(),
        key: e.key,
        value: e.value,
      }));
      const response = await handler(buildMskEvent(records, { bootstrapServers: 'dlq-replay' }));
      // A transient failure: the function reports the first offset it did not process, as Lambda's ESM expects.
      const failedFrom = Math.min(
        ...response.batchItemFailures.map((f) => f.itemIdentifier.offset),
        Number.POSITIVE_INFINITY,
      );
      const after = new Map(
        (await store.select({ functions: [first.functionName], days: [...new Set(chunk.map((e) => e.day))] })).map(
          (e) => [entryId(e), e],
        ),
      );
      const at = new Date();
      for (const e of chunk) {
        if (e.offset >= failedFrom) {
          outcome.retryLater++;
          continue;
        }
        const now = after.get(entryId(e));
        if (now && now.recordedAt.getTime() !== e.recordedAt.getTime()) {
          outcome.failedAgain.push({ id: entryId(e), reason: now.reason });
          continue;
        }
        await store.mark(e, at, options.run);
        outcome.replayed++;
      }
      done += chunk.length;
      options.progress?.(done, pending.length);
    }
  }
  return outcome;
}

/**
 * `replay --to-topic`: the entries not yet replayed, produced again to their own topic and partition (key order
 * kept), with their key, value and original timestamp, for every consumer of the topic to read again; marked as
 * replayed by this run once the broker acknowledged them. (Plaintext brokers: the local stack, or `--bootstrap`.)
 */
export async function reproduce(
  store: DeadLetterStore,
  entries: Entry[],
  bootstrapBrokers: string[],
  run: string,
): Promise<{ produced: number; skipped: number }> {
  const pending = entries.filter((e) => e.replayedAt === null).sort((a, b) => a.offset - b.offset);
  const producer = new Producer({ clientId: 'dlq-replay', bootstrapBrokers, idempotent: true });
  try {
    for (let i = 0; i < pending.length; i += REPLAY_BATCH) {
      const chunk = pending.slice(i, i + REPLAY_BATCH);
      await producer.send({
        messages: chunk.map((e) => ({
          topic: e.topic,
          partition: e.partition,
          key: e.key ?? undefined,
          value: e.value ?? undefined,
          timestamp: BigInt((e.recordTimestamp ?? new Date(`${e.day}T00:00:00Z`)).getTime()),
        })),
      });
      const at = new Date();
      for (const e of chunk) await store.mark(e, at, run);
    }
  } finally {
    await producer.close();
  }
  return { produced: pending.length, skipped: entries.length - pending.length };
}

/** What the bytes of a dead letter hold, as far as they can be read. */
async function describeValue(value: Buffer | null, registry: ConfluentSchemaRegistry): Promise<string[]> {
  if (value === null) return ['value: (none: a tombstone)'];
  const lines = [
    `value: ${value.length} bytes, ${value.subarray(0, 24).toString('hex')}${value.length > 24 ? '…' : ''}`,
  ];
  try {
    const frame = parseFrame(value);
    lines.push(
      `frame: ${frame.format}, schema ${frame.schemaId >= 0 ? `id ${frame.schemaId}` : frame.schemaUuid}, body at byte ${frame.bodyStart}`,
    );
  } catch (error) {
    lines.push(`frame: ${(error as Error).message}`);
    return lines;
  }
  const reader = new AvroReader(new SchemaCache(registry));
  const [decoded] = await reader.decodeAll([{ value: value.toString('base64') }]);
  if (decoded instanceof CodecError) lines.push(`decoded: no, ${decoded.code}: ${decoded.message}`);
  else if (decoded === TOMBSTONE) lines.push('decoded: a tombstone');
  else
    lines.push(
      `decoded: ${JSON.stringify(decoded, (_, v) => (typeof v === 'bigint' ? v.toString() : v), 2).replaceAll('\n', '\n  ')}`,
    );
  return lines;
}

async function main(): Promise<number> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      function: { type: 'string' },
      reason: { type: 'string' },
      since: { type: 'string' },
      until: { type: 'string' },
      'to-topic': { type: 'boolean' },
      bootstrap: { type: 'string' },
    },
  });
  const [command, id] = positionals;
  const env = targetEnvironment(process.env);
  const config = parseScyllaConfig(env);
  const session = new ScyllaSession(config, new CredentialsSource(config.credentials));
  const store = new DeadLetterStore(session);
  const functions = values.function ? [values.function as FunctionName] : [...FUNCTIONS];
  if (!functions.every((f) => FUNCTIONS.includes(f))) throw new Error(`--function: one of ${FUNCTIONS.join(', ')}`);
  try {
    switch (command) {
      case 'list': {
        const entries = await store.select({
          functions,
          days: days(values.since, values.until),
          reason: values.reason,
        });
        const counts = new Map<string, { total: number; replayed: number }>();
        for (const e of entries) {
          const key = `${e.functionName}\t${e.day}\t${e.reason}`;
          const c = counts.get(key) ?? { total: 0, replayed: 0 };
          c.total++;
          if (e.replayedAt) c.replayed++;
          counts.set(key, c);
        }
        console.log('function\tday\treason\tentries\treplayed');
        for (const [key, c] of [...counts].sort()) console.log(`${key}\t${c.total}\t${c.replayed}`);
        console.log(`${entries.length} dead letters`);
        return 0;
      }
      case 'show': {
        const [fn, day, topic, partition, offset] = (id ?? '').split('/');
        if (!fn || !day || !topic || partition === undefined || offset === undefined)
          throw new Error('show <function>/<day>/<topic>/<partition>/<offset> (as `list` and `replay` print them)');
        const entry = (await store.select({ functions: [fn as FunctionName], days: [day] })).find(
          (e) => e.topic === topic && e.partition === Number(partition) && e.offset === Number(offset),
        );
        if (!entry) {
          console.log(`no dead letter ${id}`);
          return 1;
        }
        console.log(`${entryId(entry)}\nreason: ${entry.reason}\nmessage: ${entry.message}`);
        console.log(
          `recorded: ${entry.recordedAt.toISOString()}, record timestamp: ${entry.recordTimestamp?.toISOString() ?? '-'}`,
        );
        console.log(
          `replayed: ${entry.replayedAt ? `${entry.replayedAt.toISOString()} by ${entry.replayedBy}` : 'no'}`,
        );
        console.log(`key: ${entry.key === null ? '(none)' : JSON.stringify(entry.key.toString('utf8'))}`);
        const registry = parseConfluentRegistryConfig(env);
        if (!registry) throw new ConfigError('SCHEMA_REGISTRY_URLS', 'is required to decode the value');
        for (const line of await describeValue(entry.value, new ConfluentSchemaRegistry(registry))) console.log(line);
        return 0;
      }
      case 'replay': {
        const entries = await store.select({
          functions,
          days: days(values.since, values.until),
          reason: values.reason,
        });
        if (values['to-topic']) {
          const brokers = (values.bootstrap ?? stackEndpoints(loadStackConfig()).kafkaBootstrap).split(',');
          const outcome = await reproduce(store, entries, brokers, `to-topic-${new Date().toISOString()}`);
          console.log(`re-produced ${outcome.produced} to their topics, already replayed ${outcome.skipped}`);
          return 0;
        }
        Object.assign(process.env, env); // the bundles read their configuration at import, as in Lambda
        const handlers = new Map<FunctionName, Promise<Handler>>();
        const handlerFor = (name: FunctionName) => {
          let handler = handlers.get(name);
          if (!handler) {
            // Built into a directory of this run's own (under dist/, so the AWS SDK the bundle leaves to Lambda
            // resolves from node_modules): never clobbers dist/<name> under another process reading it.
            mkdirSync(path.dirname(bundleDir(name)), { recursive: true });
            const outdir = mkdtempSync(`${bundleDir(name)}-dlq-`);
            process.on('exit', () => rmSync(outdir, { recursive: true, force: true }));
            handler = buildFunction(name, outdir).then(
              async ({ file }) => ((await import(pathToFileURL(file).href)) as { handler: Handler }).handler,
            );
            handlers.set(name, handler);
          }
          return handler;
        };
        const run = `replay-${new Date().toISOString()}-${randomUUID().slice(0, 8)}`;
        let outcome: ReplayOutcome | undefined;
        const started = Date.now();
        await new Listr([
          {
            title: `replaying ${entries.filter((e) => !e.replayedAt).length} dead letters (run ${run})`,
            task: async (_, task) => {
              outcome = await replay(store, entries, handlerFor, {
                run,
                progress: (done, total) => {
                  const rate = done / Math.max(0.001, (Date.now() - started) / 1000);
                  task.output = `${done}/${total} records, ${rate.toFixed(0)}/s`;
                },
              });
            },
            rendererOptions: { persistentOutput: true },
          },
        ]).run();
        const o = outcome as ReplayOutcome;
        console.log(
          `replayed ${o.replayed}, failed again ${o.failedAgain.length}, left for a later replay ${o.retryLater}, already replayed ${o.skipped}`,
        );
        for (const f of o.failedAgain) console.log(`  failed again: ${f.id} ${f.reason}`);
        return o.failedAgain.length > 0 || o.retryLater > 0 ? 1 : 0;
      }
      default:
        console.error('usage: npm run dlq -- list | show <function>/<day>/<topic>/<partition>/<offset> | replay');
        return 2;
    }
  } finally {
    await session.shutdown();
  }
}

// Exits explicitly: a replayed function's bundle keeps its warm clients (the Scylla session, as in a Lambda
// container), which nothing here may shut down, and they would keep the process alive.
if (import.meta.url === `file://${process.argv[1]}`) process.exit(await main());
