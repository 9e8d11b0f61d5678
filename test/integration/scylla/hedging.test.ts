import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ProxiedCluster, startProxiedCluster } from '../../../dev/faults/proxied-cluster';
import { localScyllaEnvironment } from '../../../dev/stack/config';
import { catalogMigrations } from '../../../functions/catalog';
import {
  READER_SCHEMA as NAVIGATION_READER,
  navigationEnricher,
} from '../../../functions/navigation-enricher/definition';
import { composeProcessor } from '../../../lib/runtime/compose';
import { parseScyllaConfig } from '../../../lib/scylla/config';
import { ScyllaUnavailableError } from '../../../lib/scylla/errors';
import { migrate } from '../../../lib/scylla/migrations';
import type { ScyllaSession } from '../../../lib/scylla/session';
import { statement } from '../../../lib/scylla/statement';
import { buildMskEvent } from '../../../ops/kafka/msk-event';
import { endpoints } from '../endpoints';
import { CLUSTER_ONLY_METRICS, captureEmf, type EmittedMetric } from '../metrics/emf-output';
import { functionEnvironment, navigationRecords } from '../runtime/environment';
import { sessionFor } from './fixtures';

/**
 * Hedged requests on a real 3-node cluster (RF 3, LOCAL_QUORUM), each node behind a fault proxy. A stalled
 * coordinator fails the statements it coordinates unless a hedge asks another one; a hedge's first try that reaches
 * its coordinator after a later write to the same row changes nothing, because every write carries its own
 * timestamp.
 */
const KEYSPACE = 'hedging';
const WRITE = statement('kv.write', 'INSERT INTO kv (k, v) VALUES (?, ?)', { idempotent: true });
const READ = statement('kv.read', 'SELECT v, WRITETIME(v) AS written FROM kv WHERE k = ?', {
  idempotent: true,
  consistency: 'ALL',
});

let cluster: ProxiedCluster;
const sessions: ScyllaSession[] = [];

function session(overrides: Record<string, string>) {
  const events = { sent: 0, won: 0 };
  const created = sessionFor(
    parseScyllaConfig({
      ...localScyllaEnvironment(cluster.cluster.endpoints, KEYSPACE),
      SCYLLA_CONSISTENCY: 'LOCAL_QUORUM',
      SCYLLA_RETRIES: '0',
      ...overrides,
    }),
    {
      events: {
        retried() {},
        hedged(sent, won) {
          events.sent += sent;
          if (won) events.won++;
        },
      },
    },
  );
  sessions.push(created);
  return { session: created, events };
}

beforeAll(async () => {
  cluster = await startProxiedCluster({ nodes: 3, offset: 6 });
  const { session: admin } = session({ SCYLLA_KEYSPACE: 'system' });
  const client = await admin.connected();
  await client.execute(
    `CREATE KEYSPACE IF NOT EXISTS ${KEYSPACE} WITH replication = {'class': 'NetworkTopologyStrategy', '${cluster.cluster.endpoints.cqlLocalDataCenter}': 3}`,
  );
  await client.execute(`CREATE TABLE IF NOT EXISTS ${KEYSPACE}.kv (k text PRIMARY KEY, v text)`);
}, 240_000);

afterAll(async () => {
  await Promise.all(sessions.map((s) => s.shutdown().catch(() => {})));
  await cluster?.stop();
}, 120_000);

/**
 * Statements one at a time until `enough` of them saw what the test is about (the driver's token-aware policy puts a
 * random replica first, and steers away from one with requests outstanding, so which statement reaches node 1 first
 * is chance): bounded, so a run that never gets there fails instead of hanging.
 */
async function until(enough: () => boolean, step: (i: number) => Promise<void>): Promise<number> {
  for (let i = 0; i < 400; i++) {
    await step(i);
    if (enough()) return i + 1;
  }
  throw new Error('400 statements and the condition never held');
}

/**
 * One write while node 1 is stalled. Stalled for one statement at a time: what it held is released in between, and
 * the next statement waits until it is answered. The driver steers away from a replica with requests outstanding, so
 * a statement sent while the held one is still in flight avoids node 1 (a CI run once sent 400 statements without
 * three reaching it first). Returns the statement's error, if it failed.
 */
async function writeWhileNode1Stalled(s: ScyllaSession, k: string): Promise<unknown> {
  const stalled = cluster.proxies[0];
  if (!stalled) throw new Error('no proxy');
  stalled.stall(true);
  try {
    await s.execute(WRITE, [k, 'v']);
    return undefined;
  } catch (error) {
    return error;
  } finally {
    stalled.stall(false);
    for (let waited = 0; waited < 2_000 && s.health().hosts.some((h) => h.inFlight > 0); waited += 5) await sleep(5);
  }
}

describe('hedged requests on a 3-node cluster', () => {
  // A try's timeout well above what a loaded 2-core machine takes to answer through the proxies (a node not held by
  // the test once took over 300 ms): only the node the test holds may time out.
  const common = { SCYLLA_REQUEST_TIMEOUT_MS: '1000', SCYLLA_SPECULATIVE_DELAY_MS: '30' };

  it('answer every idempotent statement while one coordinator is stalled, which fails some without them', async () => {
    const hedged = session({ ...common, SCYLLA_SPECULATIVE_MAX: '2' });
    const plain = session({ ...common, SCYLLA_SPECULATIVE_MAX: '0' });
    const hedgedFailures: unknown[] = [];
    await until(
      () => hedged.events.won >= 3,
      async (i) => {
        const error = await writeWhileNode1Stalled(hedged.session, `stall-hedged-${i}`);
        if (error) hedgedFailures.push(error);
      },
    );
    expect(hedgedFailures).toEqual([]);
    expect(hedged.events.sent).toBeGreaterThanOrEqual(hedged.events.won);

    const plainFailures: unknown[] = [];
    await until(
      () => plainFailures.length >= 3,
      async (i) => {
        const error = await writeWhileNode1Stalled(plain.session, `stall-plain-${i}`);
        if (error) plainFailures.push(error);
      },
    );
    for (const error of plainFailures) expect(error).toBeInstanceOf(ScyllaUnavailableError);
    expect(plain.events).toEqual({ sent: 0, won: 0 });
  });

  it('answer a statement from its hedge when its first try times out before the hedge answers', async () => {
    // Node 1 stalled, nodes 2 and 3 answering 300 ms late: a statement whose first try went to node 1 times out at
    // 1,000 ms, while its first hedge, sent at 800 ms, answers after 1,100 ms (its own timeout at 1,800). The driver
    // alone ends the statement with the first try's timeout and cancels the hedges. The one margin that can fail the
    // test is the hedge's: 700 ms for the servers to answer (a slow CI machine took over 300 ms once). A first try
    // that times out late only lets the hedge win before it, which passes without proving anything. Connected
    // before the delays: they would time out the connection's own queries.
    const hedged = session({
      SCYLLA_REQUEST_TIMEOUT_MS: '1000',
      SCYLLA_SPECULATIVE_DELAY_MS: '800',
      SCYLLA_SPECULATIVE_MAX: '2',
    });
    await hedged.session.connected();
    const late = cluster.proxies.slice(1);
    for (const proxy of late) proxy.setDelay(1, 300);
    const failures: unknown[] = [];
    try {
      await until(
        () => hedged.events.won + failures.length >= 3,
        async (i) => {
          const error = await writeWhileNode1Stalled(hedged.session, `timed-out-first-${i}`);
          if (error) failures.push(error);
        },
      );
    } finally {
      for (const proxy of late) proxy.setDelay(0, 0);
    }
    expect(failures).toEqual([]);
    expect(hedged.events.won).toBeGreaterThanOrEqual(3);
  });

  it("never lets a hedge's late first try overwrite a later write to the same row", async () => {
    const hedged = session({ ...common, SCYLLA_SPECULATIVE_MAX: '2' });
    const late = cluster.proxies[0];
    if (!late) throw new Error('no proxy');
    // Every statement sent to node 1 reaches it 400 ms late: long after its hedge answered and the next write to
    // the same row was acknowledged.
    late.setRequestDelay(1, 400);
    const keys: string[] = [];
    let overtaken = 0;
    try {
      await until(
        () => overtaken >= 3,
        async (i) => {
          const k = `late-${i}`;
          keys.push(k);
          const [won, held] = [hedged.events.won, late.stats.requestsDelayed];
          await hedged.session.execute(WRITE, [k, 'first'], { timestamp: 1_000_000 });
          // Its first try is held on the way to node 1, and a hedge answered instead.
          const firstTryLate = hedged.events.won > won && late.stats.requestsDelayed > held;
          await hedged.session.execute(WRITE, [k, 'second'], { timestamp: 2_000_000 });
          if (firstTryLate) overtaken++;
          // The held first tries reach node 1 (which applies them to all three replicas) before the next row.
          while (late.stats.requestsDelivered < late.stats.requestsDelayed) await sleep(20);
        },
      );
    } finally {
      late.setRequestDelay(0, 0);
    }
    await sleep(200);
    const reader = session({ SCYLLA_SPECULATIVE_MAX: '0' }).session;
    for (const k of keys) {
      const row = (await reader.execute(READ, [k])).first();
      expect({ k, v: row?.get('v'), written: Number(row?.get('written')) }).toEqual({
        k,
        v: 'second',
        written: 2_000_000,
      });
    }
  });

  it('are counted by navigation-enricher in the EMF its dashboard draws', async () => {
    const keyspace = 'pipeline';
    const { session: admin } = session({ SCYLLA_KEYSPACE: 'system' }); // migrations qualify every name
    await migrate(admin, {
      sets: catalogMigrations(),
      keyspace,
      replication: `{'class': 'NetworkTopologyStrategy', '${cluster.cluster.endpoints.cqlLocalDataCenter}': 3}`,
    });
    const records = await navigationRecords(200, { seed: 7, cookies: 50 });
    const handler = composeProcessor(
      navigationEnricher({ ttlSeconds: 3600 }),
      NAVIGATION_READER,
      functionEnvironment(keyspace, {
        ...localScyllaEnvironment(cluster.cluster.endpoints, keyspace),
        FUNCTION_NAME: 'hedging-navigation-enricher',
        METRICS_EMF: 'on',
        METRICS_FLUSH_INTERVAL_MS: '0',
        SCYLLA_CONSISTENCY: 'LOCAL_QUORUM',
        SCYLLA_SPECULATIVE_MAX: '2',
        SCYLLA_SPECULATIVE_DELAY_MS: '30',
      }),
    );
    const slow = cluster.proxies[0];
    if (!slow) throw new Error('no proxy');
    slow.setDelay(1, 300); // every answer from node 1 a hedge's delay and more late
    const emitted: EmittedMetric[] = [];
    try {
      await until(
        () => CLUSTER_ONLY_METRICS.every((name) => emitted.some((m) => m.name === name)),
        async () => {
          const event = buildMskEvent(records, { bootstrapServers: endpoints.kafkaBootstrap });
          emitted.push(...(await captureEmf(() => handler(event))));
        },
      );
    } finally {
      slow.setDelay(0, 0);
    }
    for (const name of CLUSTER_ONLY_METRICS) {
      const metric = emitted.find((m) => m.name === name);
      expect(Object.keys(metric?.dimensions ?? {}).sort()).toEqual(['function', 'service']);
      expect(metric?.dimensions.function).toBe('hedging-navigation-enricher');
    }
  });
});
