import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { MskEvent } from '../../lib/runtime/msk-event';
import type { BatchResponse } from '../../lib/runtime/partitions';
import type { Invoker } from './runner';

const WORKER = path.join(path.dirname(new URL(import.meta.url).pathname), 'container-worker.mjs');

interface Pending {
  resolve(response: BatchResponse | undefined | null): void;
  reject(error: Error): void;
}

/** One container: a worker thread with its own module state (the function's Scylla session, caches, metrics). */
class Container {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private exited: Error | undefined;

  constructor(bundleFile: string, env: Record<string, string>) {
    this.worker = new Worker(WORKER, {
      workerData: { bundleUrl: pathToFileURL(bundleFile).href },
      env: { ...process.env, ...env }, // its stdout and stderr go to this process's
    });
    this.worker.on('message', (message: { id?: number; response?: BatchResponse; error?: string }) => {
      if (message.id === undefined) return;
      const pending = this.pending.get(message.id);
      this.pending.delete(message.id);
      if (message.error !== undefined) pending?.reject(new Error(message.error));
      else pending?.resolve(message.response);
    });
    const fail = (error: Error) => {
      this.exited ??= error;
      for (const p of this.pending.values()) p.reject(error);
      this.pending.clear();
    };
    this.worker.on('error', fail); // the init phase failed, or an uncaught error: the container is gone
    this.worker.on('exit', (code) => fail(new Error(`the container exited (code ${code})`)));
  }

  get busy(): boolean {
    return this.pending.size > 0;
  }

  invoke(event: MskEvent, deadline: number): Promise<BatchResponse | undefined | null> {
    if (this.exited) return Promise.reject(this.exited);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, event, deadline });
    });
  }

  async terminate(): Promise<void> {
    await this.worker.terminate();
  }
}

/**
 * Lambda's containers for one function, here: a worker thread per partition the mapping invokes for (Lambda runs
 * concurrent invocations in separate sandboxes), each importing the function's bundle once, so module state lives
 * and dies with its container. A container whose invocation timed out is thrown away (terminated mid-flight, as
 * Lambda stops the sandbox: none of its pending writes run on), and the next invocation starts a new one, a cold
 * start. `crash` throws one away mid-batch on purpose (chaos: an out-of-memory kill, a host failure).
 */
export class WorkerContainers implements Invoker {
  readonly stats = { coldStarts: 0, abandoned: 0, crashed: 0 };
  private readonly containers = new Map<string, Container>();

  constructor(
    private readonly bundleFile: string,
    private readonly env: Record<string, string>,
  ) {}

  invoke(partition: string, event: MskEvent, deadline: number): Promise<BatchResponse | undefined | null> {
    let container = this.containers.get(partition);
    if (!container) {
      container = new Container(this.bundleFile, this.env);
      this.containers.set(partition, container);
      this.stats.coldStarts++;
    }
    const invoked = container.invoke(event, deadline);
    // A container that failed (init error, crash) is replaced on the next invocation.
    invoked.catch(() => {
      if (this.containers.get(partition) === container) this.containers.delete(partition);
    });
    return invoked;
  }

  abandon(partition: string): void {
    this.stats.abandoned++;
    this.discard(partition);
  }

  /** Throws away one container that is running an invocation now; false when none is. */
  crash(): boolean {
    const busy = [...this.containers].find(([, c]) => c.busy);
    if (!busy) return false;
    this.stats.crashed++;
    this.discard(busy[0]);
    return true;
  }

  async close(): Promise<void> {
    const all = [...this.containers.values()];
    this.containers.clear();
    await Promise.all(all.map((c) => c.terminate()));
  }

  private discard(partition: string): void {
    const container = this.containers.get(partition);
    this.containers.delete(partition);
    void container?.terminate();
  }
}
