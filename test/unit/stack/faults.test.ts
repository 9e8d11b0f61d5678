import { mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { findJava, mavenClasspath } from '../../../dev/stack/artifacts';
import { loadStackConfig } from '../../../dev/stack/config';
import { StackError } from '../../../dev/stack/errors';
import { launchDetached, ownedPid, stopProcess } from '../../../dev/stack/process';
import type { ServerSpec } from '../../../dev/stack/servers';
import { ensureRunning } from '../../../dev/stack/stack';

const home = mkdtempSync(path.join(os.tmpdir(), 'stack-faults-'));
const config = loadStackConfig({ STACK_HOME: home });
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

/** A throwaway server: a shell script standing in for a real server's process, to drive the boot logic. */
function fakeServer(script: string, overrides: Partial<ServerSpec> = {}): ServerSpec {
  const dir = mkdtempSync(path.join(home, 'server-'));
  const spec: ServerSpec = {
    name: 'prometheus',
    title: 'fake',
    address: 'nowhere',
    bindHost: '127.0.0.1',
    ports: [],
    dir,
    logFile: path.join(dir, 'fake.log'),
    pidFile: path.join(dir, 'fake.pid'),
    bootTimeoutMs: 60_000,
    stopGraceMs: 2_000,
    install: async () => 'nothing',
    // The state dir in argv marks the process as the stack's (what `down` looks for).
    start: async () =>
      launchDetached({
        command: 'sh',
        args: ['-c', script, home],
        cwd: dir,
        logFile: spec.logFile,
        pidFile: spec.pidFile,
      }),
    probe: async () => {
      throw new Error('not serving yet');
    },
    ...overrides,
  };
  cleanups.push(async () => {
    const pid = ownedPid(spec.pidFile, home);
    if (pid !== undefined) await stopProcess(pid, spec.pidFile, 2_000);
  });
  return spec;
}

function codeOf(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    () => 'resolved',
    (error: unknown) => (error instanceof StackError ? error.code : `untyped: ${String(error)}`),
  );
}

describe('local stack faults', () => {
  it('names the taken port instead of starting a server that cannot bind', async () => {
    const squatter = net.createServer().listen(0, '127.0.0.1');
    await new Promise((resolve) => squatter.once('listening', resolve));
    cleanups.push(async () => void squatter.close());
    const port = (squatter.address() as net.AddressInfo).port;
    const server = fakeServer('sleep 30', { ports: [port] });
    const error = await ensureRunning(server, config, () => {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StackError);
    expect((error as StackError).code).toBe('STACK_PORT_TAKEN');
    expect((error as StackError).message).toContain(String(port));
    expect(ownedPid(server.pidFile, home)).toBeUndefined();
  });

  it('fails at once with the log tail when the server dies while booting', async () => {
    // A boot timeout far past this test's own: only noticing the death ends the wait in time (no clock is read).
    const server = fakeServer('echo "fatal: data dir is corrupt"; exit 3', { bootTimeoutMs: 3_600_000 });
    const error = (await ensureRunning(server, config, () => {}).catch((e: unknown) => e)) as StackError;
    expect(error.code).toBe('STACK_BOOT_FAILED');
    expect(error.logFile).toBe(server.logFile);
    expect(error.message).toContain('fatal: data dir is corrupt');
  });

  it('gives up after the boot timeout when the server runs but never serves', async () => {
    const server = fakeServer('echo still starting; sleep 30', { bootTimeoutMs: 1_500 });
    const error = (await ensureRunning(server, config, () => {}).catch((e: unknown) => e)) as StackError;
    expect(error.code).toBe('STACK_BOOT_TIMEOUT');
    expect(error.message).toContain('still starting');
  });

  it('reuses a server it already started instead of starting a second one', async () => {
    let healthy = false;
    const server = fakeServer('sleep 30', {
      probe: async () => {
        if (!healthy) throw new Error('not yet');
        return 'ok';
      },
    });
    setTimeout(() => {
      healthy = true;
    }, 300);
    const first = await ensureRunning(server, config, () => {});
    const pid = ownedPid(server.pidFile, home);
    const second = await ensureRunning(server, config, () => {});
    expect(first).toContain(`pid ${pid}`);
    expect(second).toBe(`already running (pid ${pid}): ok`);
  });

  it('reports a missing Java as a missing tool', async () => {
    const saved = process.env.JAVA_HOME;
    process.env.JAVA_HOME = path.join(home, 'no-such-jdk');
    try {
      expect(await codeOf(findJava())).toBe('STACK_TOOL_MISSING');
    } finally {
      if (saved === undefined) delete process.env.JAVA_HOME;
      else process.env.JAVA_HOME = saved;
    }
  });

  it('reports a failed Maven download and caches nothing', async () => {
    const pom = path.join(mkdtempSync(path.join(home, 'pom-')), 'pom.xml');
    writeFileSync(
      pom,
      `<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
        <groupId>local.test</groupId><artifactId>missing</artifactId><version>1</version><packaging>pom</packaging>
        <dependencies><dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId>
        <version>0.0.0-does-not-exist</version></dependency></dependencies></project>`,
    );
    expect(await codeOf(mavenClasspath(pom, config.artifactsDir))).toBe('STACK_DOWNLOAD_FAILED');
    expect(await codeOf(mavenClasspath(pom, config.artifactsDir))).toBe('STACK_DOWNLOAD_FAILED');
  }, 120_000);
});

describe('stack config', () => {
  it('rejects a port that is not a port, naming the variable', () => {
    expect(() => loadStackConfig({ STACK_KAFKA_PORT: 'ninety' })).toThrow(/STACK_KAFKA_PORT=ninety/);
    expect(() => loadStackConfig({ STACK_CQL_PORT: '70000' })).toThrow(/STACK_CQL_PORT=70000/);
  });

  it('rejects two servers on one port', () => {
    expect(() => loadStackConfig({ STACK_REGISTRY_PORT: '9090' })).toThrow(
      /STACK_PROMETHEUS_PORT and STACK_REGISTRY_PORT|STACK_REGISTRY_PORT and STACK_PROMETHEUS_PORT/,
    );
  });

  it('derives every address from the configured ports', () => {
    const custom = loadStackConfig({ STACK_HOME: home, STACK_KAFKA_PORT: '19092', STACK_PROMETHEUS_PORT: '19090' });
    expect(custom.kafka.port).toBe(19092);
    expect(custom.prometheus.port).toBe(19090);
    expect(custom.runDir).toBe(path.join(home, 'run'));
  });
});
