import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadStackConfig, type StackEndpoints, stackEndpoints } from './config';
import { ownedPid, stopProcess } from './process';
import { stackServers } from './servers';
import { ensureRunning } from './stack';

export interface DedicatedServer {
  endpoints: StackEndpoints;
  start(): Promise<void>;
  /** SIGTERM, as an orderly restart or shutdown. */
  stop(): Promise<void>;
  /** SIGKILL: no shutdown at all, as a crashed or OOM-killed node. */
  kill(): Promise<void>;
  /** SIGSTOP / SIGCONT: a hung process (a long GC pause, a stalled disk): connections stay open, nothing answers. */
  pause(): void;
  resume(): void;
}

/**
 * A server of its own (its own ports and state dir, the stack's cached artifacts), for tests and tools that stop,
 * kill or pause it (a CQL server, a Kafka broker), or need it empty (a schema registry whose ids start at 1): doing
 * that to the shared stack's server would disturb every other test running at the same time. `offset` keeps their
 * ports apart.
 */
export function dedicatedServer(
  name: 'cql' | 'schema-registry' | 'kafka' | 'aws',
  offset: number,
  options: { cqlTls?: boolean } = {},
): DedicatedServer {
  const port = (base: number) => String(base + offset);
  const config = loadStackConfig({
    ...process.env,
    STACK_HOME: mkdtempSync(path.join(os.tmpdir(), `${name}-dedicated-`)),
    STACK_ARTIFACTS: loadStackConfig().artifactsDir,
    STACK_CQL_PORT: port(19042),
    STACK_CQL_STORAGE_PORT: port(17000),
    STACK_KAFKA_PORT: port(19200),
    STACK_KAFKA_CONTROLLER_PORT: port(19300),
    STACK_REGISTRY_PORT: port(18081),
    STACK_PROMETHEUS_PORT: port(19090),
    STACK_AWS_PORT: port(15000),
    // Stopped and started on purpose: every acknowledged write must survive, as on a replicated production cluster.
    STACK_CQL_COMMITLOG_SYNC: 'batch',
    STACK_CQL_TLS: options.cqlTls ? 'on' : 'off',
  });
  const server = stackServers(config).find((s) => s.name === name);
  if (!server) throw new Error(`no ${name} server in the stack`);
  const pid = () => ownedPid(server.pidFile, config.home);
  const signal = (sig: NodeJS.Signals) => {
    const p = pid();
    if (p !== undefined) process.kill(p, sig);
  };
  return {
    endpoints: stackEndpoints(config),
    async start() {
      await server.install();
      await ensureRunning(server, config, () => {});
    },
    async stop() {
      const p = pid();
      if (p !== undefined) await stopProcess(p, server.pidFile, server.stopGraceMs);
    },
    async kill() {
      const p = pid();
      if (p !== undefined) await stopProcess(p, server.pidFile, 0, 'SIGKILL');
    },
    pause: () => signal('SIGSTOP'),
    resume: () => signal('SIGCONT'),
  };
}
