// The instrument modules alone, not prom-client's index: the index also loads the push gateway (http, https),
// the default process metrics, cluster aggregation and summaries, which none of this uses: 5 ms of every cold start
// (bench:cold-start).
import Counter from 'prom-client/lib/counter.js';
import Gauge from 'prom-client/lib/gauge.js';
import Histogram from 'prom-client/lib/histogram.js';
import Registry from 'prom-client/lib/registry.js';

/**
 * The one instrumentation API of lib and functions: Prometheus instrument types (prom-client), registered once per
 * container and cumulative for its life. Exporters read the registry; nothing here knows where metrics go.
 *
 * Latency buckets run from 50 µs to 15 s, so both the P50 of a 250 µs SELECT and a 15 s timeout land in a bucket
 * of their own size. Labels stay low-cardinality: function, stage, statement kind, outcome, error type, reason
 * (partition appears only on the record-age gauge).
 */
export const LATENCY_BUCKETS = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15,
];

export type RecordStage =
  | 'received'
  | 'decoded'
  | 'dead_lettered'
  | 'skipped'
  | 'written'
  | 'deleted'
  | 'retried_later';

export class PipelineMetrics {
  readonly registry = new Registry();

  /** Records by what happened to them; `reason` is the dead-letter or skip reason ('' otherwise). */
  readonly records: Counter<'stage' | 'reason'>;
  /**
   * Records dead-lettered, all reasons together: what an alarm watches (CloudWatch alarms need fixed dimensions,
   * and reasons are open-ended). Prometheus could sum `records`; EMF exports what it is given.
   */
  readonly deadLetters: Counter<never>;
  /** Time to decode one partition's batch (records decoded are counted in `records{stage="decoded"}`). */
  readonly decodeSeconds: Histogram<never>;
  /** Statement latency, successes only: an error never enters a latency histogram. */
  readonly statementSeconds: Histogram<'kind'>;
  readonly statementErrors: Counter<'kind' | 'error_type'>;
  readonly statementRetries: Counter<'kind'>;
  /** Hedged requests: sent (a coordinator was slower than SCYLLA_SPECULATIVE_DELAY_MS), and answered first. */
  readonly speculativeExecutions: Counter<never>;
  readonly speculativeWins: Counter<never>;
  /** Peak statements in flight during the last batch (the executor's `takePeakInFlight`). */
  readonly inFlightStatements: Gauge<never>;
  /** One invocation, start to response. */
  readonly batchSeconds: Histogram<'outcome'>;
  readonly schemaCacheLookups: Counter<'result'>;
  readonly schemaCacheSize: Gauge<never>;
  readonly coldStarts: Counter<never>;
  /** Age of the oldest record of the last batch of a partition (now − Kafka timestamp). */
  readonly recordAgeSeconds: Gauge<'topic' | 'partition'>;
  /** Pushes to the remote-write receiver that failed (after retries). */
  readonly remoteWriteFailures: Counter<never>;
  /** The container's memory at the last flush (process.memoryUsage): RSS, and the V8 heap in use. */
  readonly memoryRssBytes: Gauge<never>;
  readonly memoryHeapUsedBytes: Gauge<never>;

  constructor(functionName: string) {
    const registers = [this.registry];
    this.registry.setDefaultLabels({ function: functionName });
    this.records = new Counter({
      name: 'processor_records_total',
      help: 'Records by stage',
      labelNames: ['stage', 'reason'],
      registers,
    });
    this.deadLetters = new Counter({
      name: 'processor_dead_letters_total',
      help: 'Records dead-lettered, all reasons',
      registers,
    });
    this.decodeSeconds = new Histogram({
      name: 'processor_decode_seconds',
      help: 'Time to decode one partition batch',
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.statementSeconds = new Histogram({
      name: 'processor_statement_seconds',
      help: 'CQL statement latency (successes)',
      labelNames: ['kind'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.statementErrors = new Counter({
      name: 'processor_statement_errors_total',
      help: 'CQL statement failures by error type',
      labelNames: ['kind', 'error_type'],
      registers,
    });
    this.statementRetries = new Counter({
      name: 'processor_statement_retries_total',
      help: 'Retries of idempotent CQL statements',
      labelNames: ['kind'],
      registers,
    });
    this.speculativeExecutions = new Counter({
      name: 'processor_speculative_executions_total',
      help: 'Speculative executions (hedged requests) sent',
      registers,
    });
    this.speculativeWins = new Counter({
      name: 'processor_speculative_wins_total',
      help: 'Statements a speculative execution answered first',
      registers,
    });
    this.inFlightStatements = new Gauge({
      name: 'processor_statements_in_flight',
      help: 'Peak CQL statements in flight during the last batch',
      registers,
    });
    this.batchSeconds = new Histogram({
      name: 'processor_batch_seconds',
      help: 'Invocation duration',
      labelNames: ['outcome'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.schemaCacheLookups = new Counter({
      name: 'processor_schema_cache_lookups_total',
      help: 'Schema cache hits and misses',
      labelNames: ['result'],
      registers,
    });
    this.schemaCacheSize = new Gauge({ name: 'processor_schema_cache_size', help: 'Schemas cached', registers });
    this.coldStarts = new Counter({ name: 'processor_cold_starts_total', help: 'Container cold starts', registers });
    this.recordAgeSeconds = new Gauge({
      name: 'processor_record_age_seconds',
      help: 'Age of the oldest record of the last batch, per partition',
      labelNames: ['topic', 'partition'],
      registers,
    });
    this.remoteWriteFailures = new Counter({
      name: 'processor_remote_write_failures_total',
      help: 'Remote-write pushes that failed',
      registers,
    });
    this.memoryRssBytes = new Gauge({
      name: 'processor_memory_rss_bytes',
      help: 'Container resident set size at the last flush',
      registers,
    });
    this.memoryHeapUsedBytes = new Gauge({
      name: 'processor_memory_heap_used_bytes',
      help: 'V8 heap in use at the last flush',
      registers,
    });
  }

  /** The session's reporter (`SessionEvents`), bound to these instruments. */
  sessionEvents() {
    return {
      retried: (statement: { kind: string }) => this.statementRetries.inc({ kind: statement.kind }),
      hedged: (sent: number, won: boolean) => {
        this.speculativeExecutions.inc(sent);
        if (won) this.speculativeWins.inc();
      },
    };
  }

  /**
   * The executor's reporting interface, bound to these instruments. The per-kind histogram child is looked up once
   * per kind: prom-client hashes a label object on every `observe(labels, value)`, a cost paid per statement.
   */
  executorMetrics() {
    const byKind = new Map<string, { observe(value: number): void }>();
    return {
      succeeded: (kind: string, seconds: number) => {
        let child = byKind.get(kind);
        if (!child) {
          child = this.statementSeconds.labels({ kind });
          byKind.set(kind, child);
        }
        child.observe(seconds);
      },
      failed: (kind: string, errorType: string) => this.statementErrors.inc({ kind, error_type: errorType }),
    };
  }
}
