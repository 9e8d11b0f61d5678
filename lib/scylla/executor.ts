import type cassandra from 'cassandra-driver';
import { AppError } from '../errors';
import { errorType } from './errors';
import type { ExecuteOptions } from './session';
import type { Statement } from './statement';

/**
 * What runs one statement: `ScyllaSession` in a function, a fake in the runtime's unit tests. The executor needs
 * nothing else of the session, so the runtime above it is testable without a server.
 */
export interface StatementRunner {
  execute(statement: Statement, params: unknown[], options?: ExecuteOptions): Promise<cassandra.types.ResultSet>;
}

/** What the executor reports; the metrics module implements it. */
export interface ExecutorMetrics {
  /** A statement succeeded after `seconds` (errors never enter the latency histogram). */
  succeeded(kind: string, seconds: number): void;
  failed(kind: string, errorType: string): void;
}

export interface SubmitOptions extends ExecuteOptions {
  /** Statements with the same key run one after another, in submission order. */
  orderKey?: string;
  /** Aborted before the statement starts: it never runs, and its promise rejects with `StatementAbortedError`. */
  signal?: AbortSignal;
}

/** A statement that never ran: its batch was cut short (an earlier failure, the deadline). */
export class StatementAbortedError extends Error {
  constructor(kind: string) {
    super(`${kind} was not run: its batch was stopped`);
    this.name = 'StatementAbortedError';
  }
}

/** What a statement's parameters waited for (a lookup) failed: the statement never ran. Transient like its cause. */
export class WriteDependencyError extends AppError {
  constructor(kind: string, cause: unknown) {
    super('WRITE_DEPENDENCY_FAILED', `${kind} was not run: a lookup it needed failed`, {
      cause,
      transient: cause instanceof AppError ? cause.transient : true,
    });
  }
}

/**
 * Runs statements with at most `maxInFlight` in flight: the "controlled parallelism" that lets a batch use the
 * cluster's concurrency without letting a latency spike pile up unbounded work. Callers submit a whole batch and
 * await the promises; statements beyond the bound wait in a FIFO queue (bounded by the batch), and statements
 * sharing an `orderKey` keep their submission order (a key waits for its predecessor before taking a slot, so a
 * waiting key never holds a slot another key could use).
 */
interface Job {
  statement: Statement;
  params: unknown[];
  options: SubmitOptions;
  resolve(result: cassandra.types.ResultSet): void;
  reject(error: unknown): void;
}

const SETTLED: Promise<unknown> = Promise.resolve();

export class WriteExecutor {
  private active = 0;
  private peak = 0;
  /** Jobs waiting for a slot, FIFO: a head index, not `Array.shift()` (O(n) on a batch-sized queue). */
  private queue: (Job | undefined)[] = [];
  private head = 0;
  /** Per order key: the last statement submitted, and how many of its statements have not settled. */
  private readonly chains = new Map<string, { tail: Promise<unknown>; pending: number }>();

  constructor(
    private readonly runner: StatementRunner,
    private readonly maxInFlight: number,
    private readonly metrics?: ExecutorMetrics,
  ) {
    if (!Number.isInteger(maxInFlight) || maxInFlight < 1)
      throw new RangeError(`maxInFlight must be ≥ 1, got ${maxInFlight}`);
  }

  /**
   * Runs `statement`. `params` may be a promise (values that need a lookup first): the statement then waits for it
   * without holding a slot, so a batch's writes start as their own lookups answer instead of after all of them, and
   * it still keeps its place in its key's order. A failed lookup rejects with `WriteDependencyError`.
   */
  execute(
    statement: Statement,
    params: unknown[] | Promise<unknown[]>,
    options: SubmitOptions = {},
  ): Promise<cassandra.types.ResultSet> {
    const key = options.orderKey;
    if (key === undefined && Array.isArray(params)) return this.submit(statement, params, options);
    const run = () =>
      Array.isArray(params)
        ? this.submit(statement, params, options)
        : params.then(
            (resolved) => this.submit(statement, resolved, options),
            (error: unknown) => {
              this.release(options.orderKey);
              return Promise.reject(new WriteDependencyError(statement.kind, error));
            },
          );
    if (key === undefined) return run();
    // A key's statements chain on the one before; the chain is dropped when its last statement settles (counted in
    // `release`, on the statement's own completion: no extra promise per statement to watch the chain's end).
    const chain = this.chains.get(key);
    if (chain === undefined) {
      // Registered before it runs: a statement aborted at once releases its key synchronously.
      const first = { tail: SETTLED, pending: 1 };
      this.chains.set(key, first);
      const result = run();
      first.tail = result;
      return result;
    }
    chain.pending++;
    const result = chain.tail.then(run, run);
    chain.tail = result;
    return result;
  }

  /** Order keys with a statement not settled yet: 0 when idle (a key is forgotten with its last statement). */
  get pendingOrderKeys(): number {
    return this.chains.size;
  }

  /** Statements running now. */
  get inFlight(): number {
    return this.active;
  }

  /**
   * The most statements in flight at once since the last call. Read once per batch for the in-flight gauge, so the
   * per-statement path records nothing but its latency.
   */
  takePeakInFlight(): number {
    const peak = this.peak;
    this.peak = this.active;
    return peak;
  }

  private submit(statement: Statement, params: unknown[], options: SubmitOptions): Promise<cassandra.types.ResultSet> {
    // A waiting statement is a small record in the queue, not a suspended async function: a batch of 10,000 costs
    // 10,000 records, and the measured throughput matches the driver's own `executeConcurrent`.
    return new Promise((resolve, reject) => {
      const job: Job = { statement, params, options, resolve, reject };
      if (this.active < this.maxInFlight) this.start(job);
      else this.queue.push(job);
    });
  }

  /** Runs the job, or rejects it with `StatementAbortedError` (taking no slot) when its batch was stopped. */
  private start(job: Job): void {
    if (job.options.signal?.aborted) {
      this.release(job.options.orderKey);
      job.reject(new StatementAbortedError(job.statement.kind));
      return;
    }
    if (++this.active > this.peak) this.peak = this.active;
    const started = performance.now();
    this.runner.execute(job.statement, job.params, job.options).then(
      (result) => {
        this.metrics?.succeeded(job.statement.kind, (performance.now() - started) / 1000);
        this.release(job.options.orderKey);
        this.finish();
        job.resolve(result);
      },
      (error: unknown) => {
        this.metrics?.failed(job.statement.kind, errorType(error));
        this.release(job.options.orderKey);
        job.reject(error);
        // The freed slot is handed on in the next macrotask, after every microtask the rejection set off: the
        // caller's reaction (the runtime aborts the failed partition's signal) lands before a queued statement of
        // that partition can start. Only failures pay the wait; a success hands its slot on at once.
        setImmediate(() => this.finish());
      },
    );
  }

  /** A statement of `key` settled (ran, was aborted, or its parameters failed). */
  private release(key: string | undefined): void {
    if (key === undefined) return;
    const chain = this.chains.get(key) as { pending: number };
    if (--chain.pending === 0) this.chains.delete(key);
  }

  private finish(): void {
    this.active--;
    this.startNext();
  }

  /** Starts queued jobs while slots are free (aborted ones are rejected without taking a slot). */
  private startNext(): void {
    while (this.active < this.maxInFlight && this.head < this.queue.length) {
      const next = this.queue[this.head] as Job;
      this.queue[this.head++] = undefined;
      if (this.head === this.queue.length) {
        this.queue = [];
        this.head = 0;
      }
      this.start(next);
    }
  }
}
