import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Listr } from 'listr2';
import { goBinary, pythonTools } from './artifacts';
import type { StackConfig } from './config';
import { formCqlCluster } from './cql-cluster';
import { StackError } from './errors';
import { isAlive, logTail, ownedPid, portInUse, stopProcess } from './process';
import { type ServerSpec, stackServers } from './servers';

/** up / down / status of the local stack. Every wait here is bounded; every failure names its log file. */

export interface ServerStatus {
  name: ServerSpec['name'];
  title: string;
  address: string;
  pid: number | undefined;
  rssMiB: number | undefined;
  healthy: boolean;
  detail: string;
}

const owned = (server: ServerSpec, config: StackConfig) => ownedPid(server.pidFile, config.home);

function rssMiB(pid: number): number | undefined {
  try {
    const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb === undefined ? undefined : Math.round(Number(kb) / 1024);
  } catch {
    return undefined;
  }
}

async function probe(server: ServerSpec): Promise<{ healthy: boolean; detail: string }> {
  try {
    return { healthy: true, detail: await server.probe() };
  } catch (error) {
    return { healthy: false, detail: (error as Error).message.split('\n')[0] ?? 'unhealthy' };
  }
}

async function bootFailure(server: ServerSpec, code: 'STACK_BOOT_FAILED' | 'STACK_BOOT_TIMEOUT', why: string) {
  return new StackError(code, `${server.name} ${why}; log ${server.logFile}:\n${await logTail(server.logFile)}`, {
    logFile: server.logFile,
  });
}

/** Waits until the server answers its probe; fails at once if its process dies, or after its boot timeout. */
async function waitHealthy(server: ServerSpec, pid: number, report: (line: string) => void): Promise<string> {
  const started = Date.now();
  let last = '';
  for (;;) {
    const result = await probe(server);
    if (result.healthy) return result.detail;
    last = result.detail;
    if (!isAlive(pid))
      throw await bootFailure(server, 'STACK_BOOT_FAILED', `exited while booting (last probe: ${last})`);
    const waited = Date.now() - started;
    if (waited > server.bootTimeoutMs) {
      throw await bootFailure(
        server,
        'STACK_BOOT_TIMEOUT',
        `did not serve within ${server.bootTimeoutMs / 1000} s (last probe: ${last})`,
      );
    }
    report(`waiting for ${server.address} (${Math.round(waited / 1000)} s): ${last}`);
    await sleep(1_000);
  }
}

/** Starts `server` unless ours already runs, then waits until it serves. */
export async function ensureRunning(
  server: ServerSpec,
  config: StackConfig,
  report: (line: string) => void,
): Promise<string> {
  const existing = owned(server, config);
  if (existing !== undefined) {
    return `already running (pid ${existing}): ${await waitHealthy(server, existing, report)}`;
  }
  for (const port of server.ports) {
    if (await portInUse(port, server.bindHost)) {
      throw new StackError(
        'STACK_PORT_TAKEN',
        `${server.name}: port ${server.bindHost}:${port} is taken by a process the stack did not start; stop it or choose other ports (STACK_*_PORT, see README)`,
      );
    }
  }
  mkdirSync(server.dir, { recursive: true });
  const pid = await server.start();
  return `pid ${pid}: ${await waitHealthy(server, pid, report)}`;
}

/** Fetch or build everything the servers and the tests run, without starting anything. */
export function installTasks(servers: ServerSpec[]) {
  return [
    ...servers.map((server) => ({
      title: `Fetch ${server.title}`,
      task: async (_: unknown, task: { title: string }) => {
        task.title = `${server.name}: ${await server.install()}`;
      },
    })),
  ];
}

export async function up(config: StackConfig): Promise<number> {
  const started = Date.now();
  mkdirSync(config.runDir, { recursive: true });
  const servers = stackServers(config);
  await new Listr(
    [
      {
        title: 'Fetch artifacts (first run downloads, later runs reuse the cache)',
        task: (_, task) => task.newListr(installTasks(servers), { concurrent: true }),
      },
      {
        title: 'Start servers',
        task: (_, task) =>
          task.newListr(
            servers.map((server) => ({
              title: `${server.title} on ${server.address}`,
              task: async (_ctx, sub) => {
                const t0 = Date.now();
                const detail = await ensureRunning(server, config, (line) => {
                  sub.output = line;
                });
                sub.title = `${server.name} on ${server.address}: ${detail} (${((Date.now() - t0) / 1000).toFixed(1)} s)`;
              },
              rendererOptions: { persistentOutput: false },
            })),
            { concurrent: true, exitOnError: true },
          ),
      },
      {
        title: 'Form the CQL cluster (roles replicated to every node)',
        enabled: () => config.cql.nodes > 1,
        task: async (_, task) => {
          task.title = `CQL cluster: ${await formCqlCluster(config)}`;
        },
      },
    ],
    { rendererOptions: { collapseSubtasks: false } },
  ).run();
  const seconds = (Date.now() - started) / 1000;
  console.log(`Local stack up in ${seconds.toFixed(1)} s (state dir ${config.home})`);
  return seconds;
}

export async function down(config: StackConfig): Promise<void> {
  // Reverse start order: clients (registry, prometheus) first, the stores last.
  for (const server of stackServers(config).reverse()) {
    const pid = owned(server, config);
    if (pid === undefined) {
      rmSync(server.pidFile, { force: true });
      console.log(`${server.name}: not running`);
      continue;
    }
    const outcome = await stopProcess(pid, server.pidFile, server.stopGraceMs);
    if (isAlive(pid))
      throw new StackError('STACK_STOP_FAILED', `${server.name} (pid ${pid}) did not stop; log ${server.logFile}`);
    console.log(`${server.name}: ${outcome} (pid ${pid})`);
  }
}

export async function status(config: StackConfig): Promise<ServerStatus[]> {
  return Promise.all(
    stackServers(config).map(async (server) => {
      const pid = owned(server, config);
      const health = await probe(server);
      return {
        name: server.name,
        title: server.title,
        address: server.address,
        pid,
        rssMiB: pid === undefined ? undefined : rssMiB(pid),
        healthy: health.healthy,
        detail: pid === undefined && !health.healthy ? 'not running' : health.detail,
      };
    }),
  );
}

/** Removes data and logs (not the artifact cache); the stack must be down. */
export async function clean(config: StackConfig): Promise<void> {
  await down(config);
  rmSync(config.runDir, { recursive: true, force: true });
  console.log(`removed ${config.runDir}`);
}

/** cfn-lint, AWS's CloudFormation linter (PyPI), in its own venv: lints every template `cdk synth` writes. */
export async function cfnLintBinary(config: StackConfig): Promise<string> {
  return path.join(await pythonTools('cfn-lint', ['cfn-lint==1.58.0'], config.artifactsDir), 'cfn-lint');
}

/**
 * Python with fastavro (PyPI), an Avro implementation independent of avsc: writes the cross-implementation corpus
 * (dev/interop/avro-corpus.py) the codec is checked against. Resolves to the venv's python.
 */
export async function fastavroPython(config: StackConfig): Promise<string> {
  return path.join(await pythonTools('fastavro', ['fastavro==1.13.1'], config.artifactsDir), 'python');
}

/**
 * `compose-spec`, the Compose Specification's validator from compose-go (Go module proxy): used only to validate
 * docker-compose.yml. compose-go is the loader `docker compose` itself runs (v2.9.1 is the version docker compose
 * v2.40.3 pins): the same schema, interpolation and normalisation, and the same JSON model as `docker compose config
 * --format json`. The whole docker compose CLI was built for this before: 268 CPU-s of Go compilation on a fresh
 * machine (more than any other artifact, ~2.5 min of CI on two cores), against 30 for this one.
 */
export function composeBinary(config: StackConfig): Promise<string> {
  return goBinary('github.com/compose-spec/compose-go/v2', 'v2.9.1', './cmd', config.artifactsDir);
}
