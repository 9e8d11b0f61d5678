import { setImmediate as nextTurn } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import type cassandra from 'cassandra-driver';
import { CATALOG } from '../functions/catalog';
import { IDENTITY_LINK_V1, type IdentityLink } from '../functions/topics/identity';
import { NAVIGATION_V1, NAVIGATION_V2, NAVIGATION_V3, type Navigation } from '../functions/topics/navigation';
import {
  AvroEncoder,
  AvroReader,
  CodecError,
  ConfluentSchemaRegistry,
  frameConfluentV0,
  SchemaCache,
  TOMBSTONE,
} from '../lib/codec';
import { ValidationError } from '../lib/runtime/errors';
import type { ProcessorDefinition, RecordContext } from '../lib/runtime/processor';
import { type StatementRunner, WriteExecutor } from '../lib/scylla/executor';
import { parseTableSinkConfig } from '../lib/sink/config';
import { tableSink } from '../lib/sink/table-sink';
import { navigationEvents } from './demo/navigation-generator';
import { SeededRandom } from './demo/seeded-random';
import { DEMO_SINK } from './demo/sink';
import { DEMO_SEGMENT_RULES } from './demo/stream';
import { loadStackConfig, stackEndpoints } from './stack/config';

/**
 * `npm run fuzz [-- --records 1000000 --seed 1]`: hostile input at scale. Records in batches of 1,000 (an MSK
 * partition batch), each batch through `decodeAll`, then every catalog function's `prepare` (against a fake database
 * holding the demo's rows) and `process` steps, and the demo's table sink (dev/demo/sink.ts), as a real invocation would: mutated valid records (bytes flipped, cut, extended) of every writer version,
 * random bodies behind valid schema ids, arbitrary values (any first byte, any length), and valid records among
 * them. Every outcome must be a value or a typed poison error (`CodecError`'s codes, `RECORD_INVALID`, `SINK_*`); anything
 * else thrown is a crash, a batch slower than `HANG_MS` a hang. Reports outcomes by code, records/s, CPU and peak
 * RSS; the last line is the verdict as JSON. Schemas come from the registry (SCHEMA_REGISTRY_URLS, else the local
 * stack's), once per id: the hostile ids are pinned to registered ones, so the run measures the decoder, not HTTP.
 */

const BATCH = 1_000;
/** A batch of 1,000 decodes in a few ms: two seconds is a hang. */
const HANG_MS = 2_000;

export interface FuzzReport {
  records: number;
  crashes: number;
  hangs: number;
  untyped: number;
  outcomes: Record<string, number>;
  seconds: number;
  cpuSeconds: number;
  peakRssMb: number;
  firstCrashes: string[];
}

type AnyDefinition = ProcessorDefinition<unknown, unknown>;

/**
 * The functions' lookups answered as the demo's tables would: the segment rules `npm start` seeds, and no row for
 * anything else (every cookie unknown). No server: the fuzz measures the decoder and the functions, not I/O.
 */
const fakeDatabase: StatementRunner = {
  async execute(statement) {
    const rows =
      statement.kind === 'segment_rules.select'
        ? DEMO_SEGMENT_RULES.map(([segment_id, url_pattern]) => ({ segment_id, url_pattern, enabled: true }))
        : [];
    const result = rows.map((row) => ({ get: (column: string) => row[column as keyof typeof row] }));
    return { rows: result, first: () => result[0] ?? null } as unknown as cassandra.types.ResultSet;
  },
};

export async function runFuzz(options: { records: number; seed: number; registryUrl: string }): Promise<FuzzReport> {
  const registry = new ConfluentSchemaRegistry({ urls: [options.registryUrl] });
  const encoder = new AvroEncoder(registry);
  const subject = `fuzz-${options.seed}`;
  const navWriters = await Promise.all(
    [NAVIGATION_V1, NAVIGATION_V2, NAVIGATION_V3].map((s) => encoder.forSubject<Navigation>(`${subject}-nav-value`, s)),
  );
  const identityWriter = await encoder.forSubject<IdentityLink>(`${subject}-identity-value`, IDENTITY_LINK_V1);
  const ids = [...navWriters.map((w) => w.id), identityWriter.id];
  const random = new SeededRandom(options.seed);
  const generator = navigationEvents({ seed: options.seed, cookies: 500, startTime: Date.UTC(2026, 10, 1) });
  const valid = (): Buffer => {
    const n = generator.next().value as Navigation;
    if (random.int(5) === 0)
      return identityWriter.encode({
        cookieId: n.cookieId,
        userId: `user-${n.cookieId}`,
        emailSha256: null,
        source: 'LOGIN',
        consent: n.consent,
        eventTime: n.eventTime,
      });
    return random.pick(navWriters).encode({ ...n, sessionId: null, pageTitle: null, loadMillis: 100 });
  };
  const bytes = (length: number) => Buffer.from(Array.from({ length }, () => random.int(256)));
  const hostile = (): Buffer | null => {
    const kind = random.next();
    if (kind < 0.1) return valid();
    if (kind < 0.5) {
      // A valid record mutated: bytes flipped after the header, cut, extended.
      const record = Buffer.from(valid());
      for (let flips = random.int(8); flips > 0; flips--) record[5 + random.int(record.length - 5)] = random.int(256);
      return Buffer.concat([record.subarray(0, record.length - random.int(8)), bytes(random.int(16))]);
    }
    if (kind < 0.8) return frameConfluentV0(random.pick(ids), bytes(random.int(2_048)));
    if (kind < 0.81) return null; // a tombstone
    // Anything at all; a value claiming Confluent v0 names a registered id (an unknown one would only ask HTTP).
    const value = bytes(random.int(64));
    if (value[0] === 0 && value.length >= 5) value.writeInt32BE(random.pick(ids), 1);
    return value;
  };

  // Every function of the catalog as its handler builds it, and the demo's table sink (every value as written, no
  // reader schema). Their `prepare` steps run against fakeDatabase, which answers like the demo's tables.
  const steps: { reader: AvroReader<unknown>; definition: AnyDefinition }[] = [
    ...CATALOG.map((entry) => ({
      reader: new AvroReader(new SchemaCache(registry), entry.readerSchema),
      definition: entry.definition({}) as AnyDefinition,
    })),
    {
      reader: new AvroReader(new SchemaCache(registry)),
      definition: tableSink(
        DEMO_SINK.name,
        parseTableSinkConfig({ SINK_CONFIG: JSON.stringify(DEMO_SINK.mapping) }),
      ) as AnyDefinition,
    },
  ];
  const executor = new WriteExecutor(fakeDatabase, 64);

  const report: FuzzReport = {
    records: 0,
    crashes: 0,
    hangs: 0,
    untyped: 0,
    outcomes: {},
    seconds: 0,
    cpuSeconds: 0,
    peakRssMb: 0,
    firstCrashes: [],
  };
  const count = (outcome: string) => {
    report.outcomes[outcome] = (report.outcomes[outcome] ?? 0) + 1;
  };
  const crash = (what: string) => {
    report.crashes++;
    if (report.firstCrashes.length < 10) report.firstCrashes.push(what);
  };
  const started = performance.now();
  const cpuStarted = process.cpuUsage();
  for (let offset = 0; offset < options.records; offset += BATCH) {
    const batch = Array.from({ length: Math.min(BATCH, options.records - offset) }, (_, i) => {
      const value = hostile();
      return { value: value === null ? null : value.toString('base64'), offset: offset + i };
    });
    for (const { reader, definition } of steps) {
      const batchStarted = performance.now();
      let decoded: Awaited<ReturnType<AvroReader<unknown>['decodeAll']>>;
      try {
        decoded = await reader.decodeAll(batch);
      } catch (error) {
        crash(`${definition.name} decodeAll threw ${(error as Error).stack}`);
        continue;
      }
      const records = decoded.map(
        (_, i): RecordContext => ({
          topic: 'fuzz',
          partition: 0,
          offset: offset + i,
          timestamp: Date.UTC(2026, 10, 1),
          key: `ck-${i}`,
          headers: [],
        }),
      );
      const values = decoded.flatMap((d, i) =>
        d instanceof CodecError || d === TOMBSTONE ? [] : [{ value: d, record: records[i] as RecordContext }],
      );
      let prepared: unknown;
      try {
        prepared = await definition.prepare?.(values, { executor });
      } catch (error) {
        crash(`${definition.name} prepare threw ${(error as Error).stack}`);
        continue;
      }
      // A write's parameters may wait for a lookup: the executor would await them, and a rejection there is a
      // transient failure that stops the partition, so a hostile record must never cause one.
      const waits: Promise<void>[] = [];
      for (const [i, d] of decoded.entries()) {
        const record = records[i] as RecordContext;
        if (d instanceof CodecError) {
          count(d.code);
          continue;
        }
        if (d === TOMBSTONE) {
          count('tombstone');
          continue;
        }
        try {
          const outcome = definition.process(d, record, prepared);
          count(Array.isArray(outcome) ? 'written' : `skipped:${outcome.skip}`);
          if (Array.isArray(outcome))
            for (const write of outcome)
              if (write.params instanceof Promise)
                waits.push(
                  write.params.then(
                    () => {},
                    (error: unknown) =>
                      crash(`${definition.name} a write's parameters failed: ${(error as Error).stack}`),
                  ),
                );
        } catch (error) {
          if (error instanceof ValidationError) count(error.code);
          else crash(`${definition.name} process threw ${(error as Error).stack}`);
        }
      }
      await Promise.all(waits);
      if (performance.now() - batchStarted > HANG_MS) report.hangs++;
    }
    report.records += batch.length;
    // Decoding with cached schemas settles in microtasks: a turn per batch lets the process's I/O (a test runner's
    // RPC, a signal) through.
    await nextTurn();
  }
  for (const code of Object.keys(report.outcomes))
    if (!/^(CODEC_[A-Z_]+|RECORD_INVALID|SINK_[A-Z_]+|written|tombstone|skipped:.+)$/.test(code)) report.untyped++;
  const cpu = process.cpuUsage(cpuStarted);
  report.seconds = (performance.now() - started) / 1000;
  report.cpuSeconds = (cpu.user + cpu.system) / 1e6;
  report.peakRssMb = process.resourceUsage().maxRSS / 1024;
  return report;
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { records: { type: 'string' }, seed: { type: 'string' } } });
  const records = Number(values.records ?? 1_000_000);
  const seed = Number(values.seed ?? 1);
  const registryUrl = process.env.SCHEMA_REGISTRY_URLS?.split(',')[0] ?? stackEndpoints(loadStackConfig()).registryUrl;
  const report = await runFuzz({ records, seed, registryUrl });
  console.log(
    `outcomes (per function step, ${records.toLocaleString('en-US')} records × ${CATALOG.length + 1} functions):`,
  );
  for (const [code, n] of Object.entries(report.outcomes).sort((a, b) => b[1] - a[1]))
    console.log(`  ${code.padEnd(32)} ${n.toLocaleString('en-US')}`);
  for (const c of report.firstCrashes) console.log(`CRASH ${c}`);
  console.log(
    `${Math.round(report.records / report.seconds).toLocaleString('en-US')} records/s through every function, ` +
      `${report.cpuSeconds.toFixed(1)} CPU-s, peak RSS ${report.peakRssMb.toFixed(0)} MB`,
  );
  console.log(
    JSON.stringify({
      records: report.records,
      crashes: report.crashes,
      hangs: report.hangs,
      untyped: report.untyped,
      peak_rss_mb: Math.round(report.peakRssMb),
      seconds: Math.round(report.seconds),
    }),
  );
  return report.crashes + report.hangs + report.untyped === 0 ? 0 : 1;
}

if (import.meta.url === `file://${process.argv[1]}`) process.exit(await main());
