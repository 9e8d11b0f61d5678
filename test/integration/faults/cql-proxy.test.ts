import { setTimeout as sleep } from 'node:timers/promises';
import cassandra from 'cassandra-driver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CqlFaultProxy } from '../../../dev/faults/cql-proxy';
import { pinnedTo } from '../../../dev/stack/cql-pin';
import { endpoints } from '../endpoints';

/**
 * The fault injector in front of the stack's real CQL node, driven by cassandra-driver: what is not an injected
 * fault is the node's own answer; delays hit the chosen share of responses; a stalled node accepts and never answers
 * until it resumes; a reset drops every connection and the driver reconnects.
 */
const [host = '127.0.0.1', port = '9042'] = endpoints.cqlContactPoint.split(':');
let draws = 0;
const proxy = new CqlFaultProxy({
  upstream: { host, port: Number(port) },
  random: () => (draws++ % 2 === 0 ? 0.1 : 0.9), // deterministic: every other response is under any fraction > 0.1
});
let client: cassandra.Client;
let direct: cassandra.Client;
const version = 'SELECT release_version FROM system.local';

beforeAll(async () => {
  const address = await proxy.start();
  const common = { localDataCenter: endpoints.cqlLocalDataCenter, credentials: endpoints.cqlCredentials };
  client = new cassandra.Client({
    ...pinnedTo(address),
    ...common,
    socketOptions: { readTimeout: 1_000 },
    pooling: { coreConnectionsPerHost: { [cassandra.types.distance.local]: 1 }, heartBeatInterval: 0 },
  });
  direct = new cassandra.Client({ contactPoints: [endpoints.cqlContactPoint], ...common });
  await Promise.all([client.connect(), direct.connect()]);
}, 60_000);

afterAll(async () => {
  await Promise.all([client?.shutdown(), direct?.shutdown()]);
  await proxy.stop();
});

describe('the CQL fault proxy', () => {
  it("passes the node's own answers through when no fault is set", async () => {
    const before = proxy.stats.responses;
    const [through, straight] = await Promise.all([client.execute(version), direct.execute(version)]);
    expect(through.rows[0]?.get('release_version')).toBe(straight.rows[0]?.get('release_version'));
    expect(proxy.stats.responses).toBeGreaterThan(before);
  });

  it('delays the chosen share of responses by the chosen time', async () => {
    proxy.setDelay(0.5, 250);
    const before = proxy.stats.delayed;
    draws = 0;
    for (let i = 0; i < 10; i++) await client.execute(version);
    expect(proxy.stats.delayed - before).toBe(5);
    proxy.setDelay(1, 300);
    const started = performance.now();
    await client.execute(version);
    expect(performance.now() - started).toBeGreaterThanOrEqual(300); // a floor the injection sets, not a timing
    proxy.setDelay(0, 0);
  });

  it('stalls: requests reach the node but no answer comes back until it resumes', async () => {
    proxy.stall(true);
    const error = await client.execute(version).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(cassandra.errors.OperationTimedOutError);
    expect(proxy.stats.held).toBeGreaterThan(0);
    proxy.stall(false);
    expect((await client.execute(version)).rows).toHaveLength(1);
  });

  it('resets every connection; the driver reconnects through the proxy', async () => {
    const connections = proxy.stats.connections;
    proxy.resetConnections();
    expect(proxy.stats.resets).toBeGreaterThan(0);
    let answered = false;
    for (let attempt = 0; attempt < 50 && !answered; attempt++) {
      answered = await client.execute(version).then(
        () => true,
        () => false,
      );
      if (!answered) await sleep(200);
    }
    expect(answered).toBe(true);
    expect(proxy.stats.connections).toBeGreaterThan(connections);
  });
});
