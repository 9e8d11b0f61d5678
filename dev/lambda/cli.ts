import { execFileSync } from 'node:child_process';
import { arch } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { catalogMigrations, FUNCTIONS, type FunctionName } from '../../functions/catalog';
import { AppError } from '../../lib/errors';
import { parseScyllaConfig } from '../../lib/scylla/config';
import { CredentialsSource } from '../../lib/scylla/credentials';
import { migrate } from '../../lib/scylla/migrations';
import { ScyllaSession } from '../../lib/scylla/session';
import { loadStackConfig, localScyllaEnvironment, stackEndpoints } from '../stack/config';
import { up } from '../stack/stack';
import { NODE24 } from './artifacts';
import { prepareLocalLambdaApp, startFunction } from './local-lambda';

const USAGE = `usage: npm run lambda -- <${FUNCTIONS.join('|')}> [--port 9000] [--memory <MB>]
Runs one function as \`cdk deploy\` would create it (handler, environment, timeout, memory from the synthesized
template; code from its asset directory) under AWS's Runtime Interface Emulator with aws-lambda-ric on Node 24,
on the local stack. Invoke it: curl -d @event.json http://127.0.0.1:<port>/2015-03-31/functions/function/invocations`;

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { port: { type: 'string', default: '9000' }, memory: { type: 'string' } },
  });
  const processor = positionals[0] as FunctionName | undefined;
  if (!processor || !FUNCTIONS.includes(processor)) {
    console.error(USAGE);
    process.exit(2);
  }
  const step = (text: string) => console.log(`• ${text}`);
  const config = loadStackConfig();
  const endpoints = stackEndpoints(config);
  step('starting the local stack (Kafka, the CQL server, the schema registry, Prometheus, the AWS emulator)');
  await up(config);
  const app = await prepareLocalLambdaApp({
    endpoints,
    artifactsDir: config.artifactsDir,
    workDir: path.join(config.runDir, 'lambda'),
    name: `lambda-${Date.now().toString(36)}`,
    onStep: step,
  });
  const definition = app.functions.get(processor);
  const keyspace = definition?.environment.SCYLLA_KEYSPACE ?? 'pipeline';
  step(`migrating keyspace ${keyspace} on the local CQL server`);
  const scylla = parseScyllaConfig(localScyllaEnvironment(endpoints, keyspace));
  const admin = new ScyllaSession(scylla, new CredentialsSource(scylla.credentials), undefined, { useKeyspace: false });
  try {
    await migrate(admin, {
      sets: catalogMigrations(),
      keyspace,
      replication: `{'class': 'NetworkTopologyStrategy', '${endpoints.cqlLocalDataCenter}': 1}`,
    });
  } finally {
    await admin.shutdown();
  }
  step(`starting ${processor} under the Runtime Interface Emulator`);
  const { sandbox, replaced } = await startFunction(app, processor, {
    port: Number(values.port),
    memorySizeMb: values.memory === undefined ? undefined : Number(values.memory),
  });
  const d = sandbox.definition;
  const architectures = d.architectures.join(',');
  console.log(
    [
      `\n${d.functionName} (${d.logicalId})`,
      `  handler        ${d.handler} in ${d.assetDir}`,
      `  runtime        ${d.runtime} (Node ${execFileSync(NODE24, ['--version']).toString().trim()} under aws-lambda-ric)`,
      `  architecture   ${architectures}${architectures.includes(arch().replace('x64', 'x86_64')) ? '' : ` in the template; this machine is ${arch()}: the same JavaScript, the emulator and the client's addon built for it`}`,
      `  timeout        ${d.timeoutSeconds} s (enforced by the emulator)`,
      `  memory         ${sandbox.memorySizeMb} MB (${sandbox.memoryLimitKind === 'none' ? 'measured, not enforced: no memory cgroup could be created' : `enforced by a ${sandbox.memoryLimitKind} memory cgroup`})`,
      `  CPU            ${sandbox.vcpus === undefined ? 'not limited: no CPU cgroup could be created' : `${sandbox.vcpus.toFixed(2)} vCPU (a cgroup quota: Lambda's share for this memory, one vCPU at 1,769 MB)`}`,
      `  environment    ${Object.keys(d.environment).length + Object.keys(d.deployTimeValues).length} variables from the template; replaced for the local stack: ${replaced.join(', ')}`,
      `  logs           ${path.join(app.workDir, `${processor}.log`)}`,
      `\ninvoke endpoint: ${sandbox.endpoint}   (Ctrl-C stops)`,
    ].join('\n'),
  );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await sandbox.stop();
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error instanceof AppError ? `\nlambda: ${error.code}: ${error.message}` : error);
    process.exit(1);
  },
);
