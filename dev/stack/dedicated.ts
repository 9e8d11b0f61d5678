import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type CqlNodeAddress, cqlNodes, loadStackConfig, type StackEndpoints, stackEndpoints } from './config';
import { formCqlCluster } from './cql-cluster';
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

function dedicatedConfig(name: string, offset: number, env: NodeJS.ProcessEnv) {
  const port = (base: number) => String(base + offset);
  return loadStackConfig({
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
    STACK_CQL_NODES: '1',
    STACK_CQL_HOST: '',
    STACK_CQL_LISTEN_HOST: '',
    ...env,
  });
}

/**
 * A server of its own (its own ports and state dir, the stack's cached artifacts), for tests and tools that stop,
 * kill or pause it (a CQL server, a Kafka broker), or need it empty (a schema registry whose ids start at 1): doing
 * that to the shared stack's server would disturb every other test running at the same time. `offset` keeps their
 * ports apart.
 */
export function dedicatedServer(
  name: 'cql' | 'schema-registry' | 'kafka' | 'aws' | 'prometheus',
  offset: number,
  options: { cqlTls?: boolean } = {},
): DedicatedServer {
  const config = dedicatedConfig(name, offset, { STACK_CQL_TLS: options.cqlTls ? 'on' : 'off' });
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

export interface DedicatedCqlCluster {
  endpoints: StackEndpoints;
  /** Each node's address as clients are told it, and where it listens (apart when `behindProxies`). */
  nodes: CqlNodeAddress[];
  /** Starts every node at once and waits for the ring and the replicated roles. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The nodes' processes (for their CPU time). */
  pids(): number[];
}

/**
 * A CQL cluster of its own on loopback addresses no other server uses (127.0.<8 + offset>.1, .2, ...). With
 * `behindProxies`, each node listens on the next /24 (127.0.<9 + offset>.x) while telling clients the first: a
 * fault proxy per node (dev/faults/cql-proxy.ts) must then listen on each `host:port` the driver is told.
 */
export function dedicatedCqlCluster(options: {
  nodes: number;
  offset: number;
  behindProxies?: boolean;
}): DedicatedCqlCluster {
  const host = `127.0.${8 + options.offset * 2}.1`;
  const config = dedicatedConfig('cql-cluster', options.offset, {
    STACK_CQL_NODES: String(options.nodes),
    STACK_CQL_HOST: host,
    STACK_CQL_LISTEN_HOST: options.behindProxies ? `127.0.${9 + options.offset * 2}.1` : host,
    STACK_CQL_COMMITLOG_SYNC: 'periodic',
  });
  const servers = stackServers(config).filter((s) => s.name === 'cql' || s.name.startsWith('cql-'));
  return {
    endpoints: stackEndpoints(config),
    nodes: cqlNodes(config),
    async start() {
      for (const server of servers) await server.install();
      await Promise.all(servers.map((server) => ensureRunning(server, config, () => {})));
      await formCqlCluster(config);
    },
    pids: () => servers.flatMap((server) => ownedPid(server.pidFile, config.home) ?? []),
    async stop() {
      await Promise.all(
        servers.map(async (server) => {
          const pid = ownedPid(server.pidFile, config.home);
          if (pid !== undefined) await stopProcess(pid, server.pidFile, server.stopGraceMs);
        }),
      );
    },
  };
}
