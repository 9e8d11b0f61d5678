import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScyllaUnavailableError } from '../../../lib/scylla/errors';
import { type ExecutorMetrics, StatementAbortedError, WriteExecutor } from '../../../lib/scylla/executor';
import type { ScyllaSession } from '../../../lib/scylla/session';
import { statement } from '../../../lib/scylla/statement';
import { writeTimestamp } from '../../../lib/scylla/write-time';
import { freshKeyspace, scyllaConfig, sessionFor } from './fixtures';

const UPSERT = statement(
  'identities.upsert',
  'INSERT INTO identities (cookie_id, user_id, source, event_time) VALUES (?, ?, ?, ?)',
  { idempotent: true },
);
const DELETE = statement('identities.delete', 'DELETE FROM identities WHERE cookie_id = ?', { idempotent: true });

interface Event {
  cookieId: string;
  userId: string;
  eventTime: number;
  offset: number;
}

describe('writes', () => {
  let session: ScyllaSession;
  let keyspace = '';
  beforeAll(async () => {
    keyspace = await freshKeyspace();
    session = sessionFor(scyllaConfig({ SCYLLA_KEYSPACE: keyspace }));
  });
  afterAll(() => session.shutdown());

  const write = (executor: WriteExecutor, e: Event) =>
    executor.execute(UPSERT, [e.cookieId, e.userId, 'LOGIN', new Date(e.eventTime)], {
      orderKey: e.cookieId,
      timestamp: writeTimestamp(e.eventTime, e.offset),
    });
  const rows = async () =>
    (
      await session.execute(statement('all', 'SELECT cookie_id, user_id FROM identities', { idempotent: true }), [])
    ).rows
      .map((row) => `${row.get('cookie_id')}=${row.get('user_id')}`)
      .sort();

  it('converge whatever the replay order: the same batch twice, and an older event after a newer one', async () => {
    const executor = new WriteExecutor(session, 16);
    const t0 = Date.UTC(2026, 10, 25, 12);
    const batch: Event[] = [
      { cookieId: 'ck-a', userId: 'u-old', eventTime: t0, offset: 10 },
      { cookieId: 'ck-a', userId: 'u-new', eventTime: t0 + 5_000, offset: 11 },
      { cookieId: 'ck-b', userId: 'u-b', eventTime: t0, offset: 12 },
    ];
    await Promise.all(batch.map((e) => write(executor, e)));
    const once = await rows();
    await Promise.all(batch.map((e) => write(executor, e))); // at-least-once: the batch again
    await write(executor, batch[0] as Event); // a late duplicate of the older event
    expect(once).toEqual(['ck-a=u-new', 'ck-b=u-b']);
    expect(await rows()).toEqual(once);
  });

  it('keep the later offset when two events share a millisecond (no lost write on equal timestamps)', async () => {
    const executor = new WriteExecutor(session, 16);
    const t = Date.UTC(2026, 10, 25, 13);
    // Written newest first: with equal write times the older value could win; the offset tiebreak prevents it.
    await write(executor, { cookieId: 'ck-tie', userId: 'u-second', eventTime: t, offset: 501 });
    await write(executor, { cookieId: 'ck-tie', userId: 'u-first', eventTime: t, offset: 500 });
    expect((await rows()).filter((r) => r.startsWith('ck-tie'))).toEqual(['ck-tie=u-second']);
  });

  it('a delete written with the event time is not undone by replaying an older upsert', async () => {
    const executor = new WriteExecutor(session, 16);
    const t = Date.UTC(2026, 10, 25, 14);
    await write(executor, { cookieId: 'ck-del', userId: 'u-x', eventTime: t, offset: 1 });
    await executor.execute(DELETE, ['ck-del'], { timestamp: writeTimestamp(t + 1_000, 2) });
    await write(executor, { cookieId: 'ck-del', userId: 'u-x', eventTime: t, offset: 1 }); // replay
    expect((await rows()).filter((r) => r.startsWith('ck-del'))).toEqual([]);
  });
});

describe('the write executor', () => {
  let session: ScyllaSession;
  beforeAll(async () => {
    const keyspace = await freshKeyspace();
    session = sessionFor(scyllaConfig({ SCYLLA_KEYSPACE: keyspace }));
    await session.execute(
      statement('ddl', 'CREATE TABLE IF NOT EXISTS appends (k text PRIMARY KEY, items list<int>)', {
        idempotent: true,
      }),
      [],
    );
  });
  afterAll(() => session.shutdown());

  /** Records what the executor reports. */
  function recorder() {
    const seen = { succeeded: new Map<string, number[]>(), failed: [] as string[] };
    const metrics: ExecutorMetrics = {
      succeeded: (kind, seconds) => seen.succeeded.set(kind, [...(seen.succeeded.get(kind) ?? []), seconds]),
      failed: (kind, type) => seen.failed.push(`${kind}:${type}`),
    };
    return { seen, metrics };
  }

  it('keeps submission order per key while running keys in parallel, never above its bound', async () => {
    // A list append is not idempotent and its result shows the order the statements ran in.
    const append = statement('appends.add', 'UPDATE appends SET items = items + ? WHERE k = ?', { idempotent: false });
    const { metrics } = recorder();
    const executor = new WriteExecutor(session, 8, metrics);
    const keys = ['k0', 'k1', 'k2', 'k3', 'k4'];
    await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        executor.execute(append, [[i], keys[i % keys.length]], { orderKey: keys[i % keys.length] }),
      ),
    );
    const result = await session.execute(
      statement('appends.read', 'SELECT k, items FROM appends', { idempotent: true }),
      [],
    );
    for (const row of result.rows) {
      const k = keys.indexOf(row.get('k') as string);
      expect(row.get('items')).toEqual(Array.from({ length: 40 }, (_, j) => j * keys.length + k));
    }
    const peak = executor.takePeakInFlight();
    expect(peak).toBeLessThanOrEqual(8);
    expect(peak).toBeGreaterThan(1);
    expect(executor.inFlight).toBe(0);
    expect(executor.takePeakInFlight()).toBe(0); // reset to what runs now
    expect(executor.pendingOrderKeys).toBe(0);
  });

  it('times successes only, and counts failures by error type', async () => {
    const ok = statement('appends.read', 'SELECT k FROM appends LIMIT 1', { idempotent: true });
    const bad = statement('appends.bad', 'SELECT missing_column FROM appends', { idempotent: true });
    const { seen, metrics } = recorder();
    const executor = new WriteExecutor(session, 4, metrics);
    const outcomes = await Promise.allSettled([
      executor.execute(ok, []),
      executor.execute(bad, []),
      executor.execute(ok, []),
      executor.execute(bad, []),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'rejected']);
    expect(seen.succeeded.get('appends.read')).toHaveLength(2);
    expect(seen.succeeded.has('appends.bad')).toBe(false);
    expect(seen.failed).toEqual(['appends.bad:invalid', 'appends.bad:invalid']);
  });

  it('starts a write whose values wait for a lookup when it answers, in its key order, without holding a slot', async () => {
    const append = statement('appends.add', 'UPDATE appends SET items = items + ? WHERE k = ?', { idempotent: false });
    const read = statement('appends.read', 'SELECT items FROM appends WHERE k = ?', { idempotent: true });
    // One slot: a deferred write holding it while it waits would deadlock the lookup it waits for.
    const executor = new WriteExecutor(session, 1);
    const lookup = executor.execute(read, ['nothing-here']).then((rows) => (rows.first() ? 99 : 1));
    const written = await Promise.all([
      executor.execute(
        append,
        lookup.then((n) => [[n], 'deferred']),
        { orderKey: 'deferred' },
      ),
      // Submitted after the deferred one with its values at hand: same key, so it still runs second.
      executor.execute(append, [[2], 'deferred'], { orderKey: 'deferred' }),
      executor.execute(append, [[7], 'other'], { orderKey: 'other' }),
    ]);
    expect(written).toHaveLength(3);
    const items = async (k: string) => (await session.execute(read, [k])).first()?.get('items');
    expect(await items('deferred')).toEqual([1, 2]);
    expect(await items('other')).toEqual([7]);
  });

  it('never runs a write whose lookup failed, and rejects it as transient as its cause', async () => {
    const append = statement('appends.add', 'UPDATE appends SET items = items + ? WHERE k = ?', { idempotent: false });
    const executor = new WriteExecutor(session, 2);
    const failed = Promise.reject(new ScyllaUnavailableError('no host'));
    await expect(executor.execute(append, failed, { orderKey: 'never' })).rejects.toMatchObject({
      code: 'WRITE_DEPENDENCY_FAILED',
      transient: true,
      cause: expect.any(ScyllaUnavailableError),
    });
    const rows = await session.execute(
      statement('appends.read', 'SELECT items FROM appends WHERE k = ?', { idempotent: true }),
      ['never'],
    );
    expect(rows.first()).toBeNull();
    expect(executor.pendingOrderKeys).toBe(0);
  });

  it('never starts a write of a stopped batch: queued and key-ordered writes reject as aborted, running ones finish', async () => {
    const append = statement('appends.add', 'UPDATE appends SET items = items + ? WHERE k = ?', { idempotent: false });
    const read = statement('appends.read', 'SELECT items FROM appends WHERE k = ?', { idempotent: true });
    const { seen, metrics } = recorder();
    const executor = new WriteExecutor(session, 1, metrics);
    const stop = new AbortController();
    const running = executor.execute(append, [[1], 'stopped'], { orderKey: 'stopped', signal: stop.signal });
    const queued = executor.execute(append, [[2], 'queued'], { signal: stop.signal });
    const keyed = executor.execute(append, [[3], 'stopped'], { orderKey: 'stopped', signal: stop.signal });
    const other = executor.execute(append, [[4], 'other-batch'], {}); // another batch's write: not stopped
    stop.abort();
    // Submitted after the stop, the first of its key: rejected before it takes a slot.
    const late = executor.execute(append, [[5], 'late'], { orderKey: 'late', signal: stop.signal });
    const outcomes = await Promise.allSettled([running, queued, keyed, other, late]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'fulfilled', 'rejected']);
    for (const o of [outcomes[1], outcomes[2], outcomes[4]])
      expect((o as PromiseRejectedResult).reason).toBeInstanceOf(StatementAbortedError);
    const items = async (k: string) => (await session.execute(read, [k])).first()?.get('items') ?? null;
    expect([await items('stopped'), await items('queued'), await items('other-batch')]).toEqual([[1], null, [4]]);
    expect(seen.succeeded.get('appends.add')).toHaveLength(2);
    expect(seen.failed).toEqual([]); // an aborted write is not a failed statement
    expect(executor.inFlight).toBe(0);
    expect(executor.pendingOrderKeys).toBe(0);
  });
});
