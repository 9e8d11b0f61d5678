import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadStackConfig, type StackEndpoints, stackEndpoints } from '../../dev/stack/config';
import { ownedPid, stopProcess } from '../../dev/stack/process';
import { stackServers } from '../../dev/stack/servers';
import { ensureRunning } from '../../dev/stack/stack';

/**
 * A server of a test's own (its own ports and state dir, the stack's cached artifacts), for tests that stop and
 * start it (a CQL server), or need it empty (a schema registry whose ids start at 1): doing that to the shared
 * stack's server would disturb every other test running at the same time. `offset` keeps tests' ports apart.
 */
export function dedicatedServer(
  name: 'cql' | 'schema-registry',
  offset: number,
  options: { cqlTls?: boolean } = {},
): {
  endpoints: StackEndpoints;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** SIGKILL: no shutdown at all, as a crashed or OOM-killed node. */
  kill(): Promise<void>;
} {
  const port = (base: number) => String(base + offset);
  const config = loadStackConfig({
    ...process.env,
    STACK_HOME: mkdtempSync(path.join(os.tmpdir(), 'cql-dedicated-')),
    STACK_ARTIFACTS: loadStackConfig().artifactsDir,
    STACK_CQL_PORT: port(19042),
    STACK_CQL_STORAGE_PORT: port(17000),
    STACK_KAFKA_PORT: port(19092),
    STACK_KAFKA_CONTROLLER_PORT: port(19093),
    STACK_REGISTRY_PORT: port(18081),
    STACK_PROMETHEUS_PORT: port(19090),
    STACK_AWS_PORT: port(15000),
    // Stopped and started on purpose: every acknowledged write must survive, as on a replicated production cluster.
    STACK_CQL_COMMITLOG_SYNC: 'batch',
    STACK_CQL_TLS: options.cqlTls ? 'on' : 'off',
  });
  const server = stackServers(config).find((s) => s.name === name);
  if (!server) throw new Error(`no ${name} server in the stack`);
  return {
    endpoints: stackEndpoints(config),
    async start() {
      await server.install();
      await ensureRunning(server, config, () => {});
    },
    async stop() {
      const pid = ownedPid(server.pidFile, config.home);
      if (pid !== undefined) await stopProcess(pid, server.pidFile, server.stopGraceMs);
    },
    async kill() {
      const pid = ownedPid(server.pidFile, config.home);
      if (pid !== undefined) await stopProcess(pid, server.pidFile, 0, 'SIGKILL');
    },
  };
}
