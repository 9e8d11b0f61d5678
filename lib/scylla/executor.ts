import type cassandra from 'cassandra-driver';
import { errorType } from './errors';
import type { ExecuteOptions, ScyllaSession } from './session';
import type { Statement } from './statement';

/** What the executor reports; the metrics module implements it. */
export interface ExecutorMetrics {
  /** A statement succeeded after `seconds` (errors never enter the latency histogram). */
  succeeded(kind: string, seconds: number): void;
  failed(kind: string, errorType: string): void;
  inFlight(count: number): void;
}

export interface SubmitOptions extends ExecuteOptions {
  /** Statements with the same key run one after another, in submission order. */
  orderKey?: string;
}

/**
 * Runs statements with at most `maxInFlight` in flight: the "controlled parallelism" that lets a batch use the
 * cluster's concurrency without letting a latency spike pile up unbounded work. Callers submit a whole batch and
 * await the promises; statements beyond the bound wait in a FIFO queue (bounded by the batch), and statements
 * sharing an `orderKey` keep their submission order (a key waits for its predecessor before taking a slot, so a
 * waiting key never holds a slot another key could use).
 */
export class WriteExecutor {
  private active = 0;
  private readonly slots: (() => void)[] = [];
  private readonly tails = new Map<string, Promise<unknown>>();

  constructor(
    private readonly session: ScyllaSession,
    private readonly maxInFlight: number,
    private readonly metrics?: ExecutorMetrics,
  ) {
    if (!Number.isInteger(maxInFlight) || maxInFlight < 1)
      throw new RangeError(`maxInFlight must be ≥ 1, got ${maxInFlight}`);
  }

  execute(statement: Statement, params: unknown[], options: SubmitOptions = {}): Promise<cassandra.types.ResultSet> {
    const key = options.orderKey;
    if (key === undefined) return this.run(statement, params, options);
    const previous = this.tails.get(key);
    const result = previous
      ? previous.then(
          () => this.run(statement, params, options),
          () => this.run(statement, params, options),
        )
      : this.run(statement, params, options);
    this.tails.set(key, result);
    const forget = () => {
      if (this.tails.get(key) === result) this.tails.delete(key);
    };
    result.then(forget, forget);
    return result;
  }

  /** Statements running now. */
  get inFlight(): number {
    return this.active;
  }

  private async run(
    statement: Statement,
    params: unknown[],
    options: ExecuteOptions,
  ): Promise<cassandra.types.ResultSet> {
    if (this.active >= this.maxInFlight) await new Promise<void>((resolve) => this.slots.push(resolve));
    else this.active++;
    this.metrics?.inFlight(this.active);
    const started = process.hrtime.bigint();
    try {
      const result = await this.session.execute(statement, params, options);
      this.metrics?.succeeded(statement.kind, Number(process.hrtime.bigint() - started) / 1e9);
      return result;
    } catch (error) {
      this.metrics?.failed(statement.kind, errorType(error));
      throw error;
    } finally {
      const next = this.slots.shift();
      // A waiter inherits the slot directly, so `active` stays exact and no newcomer can jump the queue.
      if (next) next();
      else this.active--;
      this.metrics?.inFlight(this.active);
    }
  }
}
