import { writeFileSync } from 'node:fs';
import path from 'node:path';
import cassandra from 'cassandra-driver';
import { loadStackConfig, REPO_ROOT, stackEndpoints } from '../stack/config';
import { pinnedTo } from '../stack/cql-pin';
import { CqlFaultProxy } from './cql-proxy';

/**
 * `npx tsx dev/faults/capture-cql.ts`: records a real cassandra-driver session with the local stack's CQL server,
 * byte for byte as the chunks crossed the proxy, into test/fixtures/cql-v4-session.json: the unit tests of the
 * proxy's framing run on it. The session covers the handshake with password authentication, schema changes (and
 * the events they push), prepared and unprepared statements, a batch, paging, an error and a wide row.
 */
const local = stackEndpoints(loadStackConfig());
const [host = '127.0.0.1', port = '9042'] = local.cqlContactPoint.split(':');
const chunks: { connection: number; direction: 'request' | 'response'; hex: string }[] = [];
const proxy = new CqlFaultProxy({
  upstream: { host, port: Number(port) },
  tap: (direction, chunk, connection) => chunks.push({ connection, direction, hex: chunk.toString('hex') }),
});
const address = await proxy.start();
const client = new cassandra.Client({
  ...pinnedTo(address),
  localDataCenter: local.cqlLocalDataCenter,
  credentials: local.cqlCredentials,
  pooling: { coreConnectionsPerHost: { [cassandra.types.distance.local]: 1 } },
});
try {
  await client.connect();
  await client.execute(
    `CREATE KEYSPACE IF NOT EXISTS capture WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`,
  );
  await client.execute('CREATE TABLE IF NOT EXISTS capture.kv (k text, c int, v blob, PRIMARY KEY (k, c))');
  for (let c = 0; c < 30; c++) {
    await client.execute('INSERT INTO capture.kv (k, c, v) VALUES (?, ?, ?)', ['wide', c, Buffer.alloc(c * 60, c)], {
      prepare: true,
    });
  }
  await client.batch(
    [
      { query: 'INSERT INTO capture.kv (k, c, v) VALUES (?, ?, ?)', params: ['b', 1, Buffer.from('x')] },
      { query: 'INSERT INTO capture.kv (k, c, v) VALUES (?, ?, ?)', params: ['b', 2, Buffer.from('y')] },
    ],
    { prepare: true },
  );
  await client.execute('SELECT * FROM capture.kv WHERE k = ?', ['wide'], { prepare: true, fetchSize: 7 });
  await client.execute('SELECT * FROM capture.missing_table').catch(() => undefined); // an ERROR response
  await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      client.execute('SELECT v FROM capture.kv WHERE k = ? AND c = ?', ['wide', i], { prepare: true }),
    ),
  );
  await client.execute('DROP KEYSPACE capture');
} finally {
  await client.shutdown();
  await proxy.stop();
}
const file = path.join(REPO_ROOT, 'test/fixtures/cql-v4-session.json');
writeFileSync(
  file,
  `${JSON.stringify({ source: 'dev/faults/capture-cql.ts against Apache Cassandra 5.0 (the local stack)', chunks }, null, 1)}\n`,
);
console.log(`${chunks.length} chunks, ${proxy.stats.requests} requests, ${proxy.stats.responses} responses → ${file}`);
