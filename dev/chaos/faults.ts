import { setTimeout as sleep } from 'node:timers/promises';
import type { WorkerContainers } from '../esm/containers';
import type { FaultyProxy } from '../faults/http-proxy';
import type { DedicatedServer } from '../stack/dedicated';
import type { ChaosStream } from './stream';

/** What the faults act on. */
export interface ChaosTargets {
  cql: DedicatedServer;
  kafka: DedicatedServer;
  registry: FaultyProxy;
  stream: ChaosStream;
  containers: WorkerContainers[];
  /** Changes the functions' CQL password on the server and in Secrets Manager together. */
  rotatePassword(): Promise<void>;
}

export interface Fault {
  /** Seconds after the stream starts. */
  at: number;
  name: string;
  inject(targets: ChaosTargets): Promise<void>;
}

export const cqlKilled = (at: number, downSeconds: number): Fault => ({
  at,
  name: `CQL server SIGKILL, back after ${downSeconds} s`,
  async inject({ cql }) {
    await cql.kill();
    await sleep(downSeconds * 1000);
    await cql.start();
  },
});

const kafkaRestarted = (at: number): Fault => ({
  at,
  name: 'Kafka broker restarted (SIGTERM)',
  async inject({ kafka }) {
    await kafka.stop();
    await kafka.start();
  },
});

const kafkaKilled = (at: number, downSeconds: number): Fault => ({
  at,
  name: `Kafka broker SIGKILL, back after ${downSeconds} s`,
  async inject({ kafka }) {
    await kafka.kill();
    await sleep(downSeconds * 1000);
    await kafka.start();
  },
});

const registryDown = (at: number, seconds: number): Fault => ({
  at,
  name: `schema registry unreachable for ${seconds} s while records of an uncached schema id arrive`,
  async inject({ registry, stream }) {
    stream.useLateWriter();
    await registry.outage(seconds * 1000);
  },
});

const cqlHung = (at: number, seconds: number): Fault => ({
  at,
  name: `CQL server hung (SIGSTOP) for ${seconds} s: invocations run past the function timeout`,
  async inject({ cql }) {
    cql.pause();
    await sleep(seconds * 1000);
    cql.resume();
  },
});

const containerCrashed = (at: number): Fault => ({
  at,
  name: 'a container thrown away mid-batch (its module state lost)',
  async inject({ containers, stream }) {
    // Work arrives while the stream is produced: wait for a busy container until then, and 30 s after.
    for (let deadline = Date.now() + 30_000; Date.now() < deadline; await sleep(20)) {
      if (containers.some((c) => c.crash())) return;
      if (!stream.finished) deadline = Date.now() + 30_000;
    }
    throw new Error("no container was busy within 30 s of the stream's end");
  },
});

const passwordRotated = (at: number): Fault => ({
  at,
  name: 'CQL password rotated (server and Secrets Manager)',
  inject: ({ rotatePassword }) => rotatePassword(),
});

/**
 * `npm run chaos`: every fault of a production day over a stream produced for 150 s. The rotation comes before the
 * second CQL kill, so the functions must log in again with the new password. The function timeout is 10 s.
 */
export const FULL_SCHEDULE: Fault[] = [
  cqlKilled(10, 15),
  passwordRotated(45),
  kafkaRestarted(50),
  registryDown(65, 15),
  cqlHung(88, 16),
  containerCrashed(108),
  cqlKilled(112, 15),
  kafkaKilled(148, 5),
];

/**
 * The CI slice: each fault once, over a stream produced for 60 s. The broker faults come while a backlog drains
 * (after the CQL kill, after the hang): a rebuilt consumer then delivers records again that are still queued.
 */
export const CI_SCHEDULE: Fault[] = [
  passwordRotated(3),
  cqlKilled(5, 5),
  kafkaRestarted(22),
  registryDown(32, 8),
  cqlHung(42, 14),
  kafkaKilled(57, 3),
  // While the stream is still produced: scheduled after the broker faults, it once came when a slow run had drained
  // everything (the faults before it had taken 19 s longer than planned).
  containerCrashed(15),
];
