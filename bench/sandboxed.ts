import { mkdtempSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';
import { DEMO_SEGMENT_RULES } from '../dev/demo/stream';
import { localEnvironment } from '../dev/lambda/local-environment';
import type { LocalLambdaApp } from '../dev/lambda/local-lambda';
import { LambdaSandbox } from '../dev/lambda/sandbox';
import type { FunctionDefinition } from '../dev/lambda/template';
import {
  loadStackConfig,
  localScyllaEnvironment,
  REPO_ROOT,
  type StackEndpoints,
  stackEndpoints,
} from '../dev/stack/config';
import { ownedPid } from '../dev/stack/process';
import { stackServers } from '../dev/stack/servers';
import { up } from '../dev/stack/stack';
import { catalogMigrations } from '../functions/catalog';
import { BUNDLE_OPTIONS } from '../infra/build';
import { parseScyllaConfig } from '../lib/scylla/config';
import { CredentialsSource } from '../lib/scylla/credentials';
import { migrate } from '../lib/scylla/migrations';
import { ScyllaSession } from '../lib/scylla/session';
import { statement } from '../lib/scylla/statement';

/** Lambda's arm64 price in us-east-1 (first tier): per GB-second, and per request. */
export const GB_SECOND_USD = 0.0000133334;
export const REQUEST_USD = 0.2 / 1e6;

/** The local stack, brought up, and the CQL server's pid: the benches read its CPU seconds. */
export async function benchStack() {
  const config = loadStackConfig();
  const endpoints = stackEndpoints(config);
  await up(config);
  const cqlServer = stackServers(config).find((s) => s.name === 'cql');
  return { config, endpoints, cqlPid: (cqlServer && ownedPid(cqlServer.pidFile, config.home)) || 0 };
}

/**
 * A bench's own keyspace, migrated, with the demo's segment rules: the superuser's session on it (not bound to it).
 * The keyspaces earlier runs of the same bench left (`<prefix>_<run>`) are dropped first: with 329 keyspaces of the
 * catalog's tables left by benches and tests, bench:partition ran at 3,939 events/s where it ran at 9,133 once they
 * were dropped (and the server restarted).
 */
export async function benchKeyspace(endpoints: StackEndpoints, keyspace: string): Promise<ScyllaSession> {
  const scylla = parseScyllaConfig(localScyllaEnvironment(endpoints, keyspace));
  const admin = new ScyllaSession(scylla, new CredentialsSource(scylla.credentials), undefined, { useKeyspace: false });
  const client = await admin.connected();
  const prefix = keyspace.slice(0, keyspace.lastIndexOf('_') + 1);
  const existing = await client.execute('SELECT keyspace_name FROM system_schema.keyspaces');
  for (const row of existing.rows) {
    const name = row.get('keyspace_name') as string;
    if (name.startsWith(prefix) && name !== keyspace) await client.execute(`DROP KEYSPACE IF EXISTS ${name}`);
  }
  await migrate(admin, {
    sets: catalogMigrations(),
    keyspace,
    replication: `{'class': 'NetworkTopologyStrategy', '${endpoints.cqlLocalDataCenter}': 1}`,
  });
  const rule = statement(
    'rules.seed',
    `INSERT INTO ${keyspace}.segment_rules (segment_id, url_pattern, enabled) VALUES (?, ?, true)`,
    { idempotent: true },
  );
  for (const [segment, pattern] of DEMO_SEGMENT_RULES) await admin.execute(rule, [segment, pattern]);
  return admin;
}

/**
 * A bench's own handler module (bench/naive-lambda.ts, bench/ceiling-lambda.ts) built with the functions' esbuild
 * configuration and started under RIE with navigation-enricher's definition (MemorySize, timeout, environment), so it
 * runs with the same CPU, memory and settings as the function it is compared with. It logs in as the superuser: its
 * plain settings come from the environment, not from a secret.
 */
export async function startBenchSandbox(
  app: LocalLambdaApp,
  name: string,
  entry: string,
  options: { overrides: Record<string, string>; memorySizeMb?: number },
): Promise<LambdaSandbox> {
  const { definition, environment } = await buildBenchHandler(app, name, entry, options.overrides);
  return LambdaSandbox.start({
    definition,
    runtime: app.runtime,
    environment,
    logFile: path.join(app.workDir, `${name}.log`),
    memorySizeMb: options.memorySizeMb,
  });
}

/**
 * A bench handler module bundled with the functions' esbuild configuration, with navigation-enricher's definition
 * and environment (plus the superuser's plain credentials): what `startBenchSandbox` runs, or a bench imports.
 */
export async function buildBenchHandler(
  app: LocalLambdaApp,
  name: string,
  entry: string,
  overrides: Record<string, string>,
): Promise<{ definition: FunctionDefinition; environment: Record<string, string> }> {
  const enricher = app.functions.get('navigation-enricher');
  if (!enricher) throw new Error('no navigation-enricher in the template');
  const assetDir = mkdtempSync(path.join(app.workDir, `${name}-`));
  await build({ ...BUNDLE_OPTIONS, entryPoints: [path.join(REPO_ROOT, entry)], outdir: assetDir });
  const definition = { ...enricher, functionName: name, assetDir };
  const { environment } = localEnvironment(definition, app.endpoints, app.resources, {
    ...overrides,
    SCYLLA_USERNAME: app.endpoints.cqlCredentials.username,
    SCYLLA_PASSWORD: app.endpoints.cqlCredentials.password,
  });
  return { definition, environment };
}
