import { randomUUID } from 'node:crypto';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { type Env, integer, oneOf, optionalString } from '../config';
import { ConfigError } from '../errors';
import { EmfExporter } from './emf';
import { PipelineMetrics } from './instruments';
import { RemoteWriteExporter } from './remote-write';
import { sigv4Signer } from './sigv4';

export interface MetricsConfig {
  functionName: string;
  /** CloudWatch namespace of the EMF metrics. */
  namespace: string;
  emf: boolean;
  remoteWrite?: { url: string; budgetMs: number; sigv4Region?: string };
}

/**
 * METRICS_EMF (on), METRICS_NAMESPACE (KafkaProcessors), METRICS_REMOTE_WRITE_URL (off when unset),
 * METRICS_REMOTE_WRITE_BUDGET_MS (1000), METRICS_REMOTE_WRITE_SIGV4_REGION (set for Amazon Managed Prometheus);
 * the function name from AWS_LAMBDA_FUNCTION_NAME (or FUNCTION_NAME).
 */
export function parseMetricsConfig(env: Env): MetricsConfig {
  const functionName = optionalString(env, 'FUNCTION_NAME') ?? optionalString(env, 'AWS_LAMBDA_FUNCTION_NAME');
  if (!functionName) throw new ConfigError('FUNCTION_NAME', 'is required (Lambda sets AWS_LAMBDA_FUNCTION_NAME)');
  const url = optionalString(env, 'METRICS_REMOTE_WRITE_URL');
  if (url !== undefined && !/^https?:\/\//.test(url))
    throw new ConfigError('METRICS_REMOTE_WRITE_URL', 'must be an http(s) URL');
  return {
    functionName,
    namespace: optionalString(env, 'METRICS_NAMESPACE') ?? 'KafkaProcessors',
    emf: oneOf(env, 'METRICS_EMF', ['on', 'off'], 'on') === 'on',
    remoteWrite: url
      ? {
          url,
          budgetMs: integer(env, 'METRICS_REMOTE_WRITE_BUDGET_MS', 1_000, { min: 50, max: 30_000 }),
          sigv4Region: optionalString(env, 'METRICS_REMOTE_WRITE_SIGV4_REGION'),
        }
      : undefined,
  };
}

export interface FlushReport {
  emfValues: number;
  remoteWrite: 'off' | 'ok' | 'failed';
}

/**
 * The container's metrics: instruments (module scope, cumulative) and the exporters, flushed together at the end
 * of each invocation, before the handler returns (a frozen container sends nothing). A flush never throws: an
 * exporter failure is logged once and counted, and the batch's result stands.
 */
export class MetricsPublisher {
  readonly instruments: PipelineMetrics;
  /** This container's `instance` label, made at cold start. */
  readonly instance: string;
  private readonly emf: EmfExporter | undefined;
  private readonly remoteWrite: RemoteWriteExporter | undefined;
  private readonly log: (line: string) => void;

  constructor(
    readonly config: MetricsConfig,
    deps: { fetch?: typeof fetch; log?: (line: string) => void } = {},
  ) {
    this.instruments = new PipelineMetrics(config.functionName);
    this.instance = `${config.functionName}/${randomUUID().slice(0, 8)}`;
    this.log = deps.log ?? ((line) => console.warn(line));
    if (config.emf) {
      const powertools = new Metrics({
        namespace: config.namespace,
        serviceName: 'kafka-processors',
        defaultDimensions: { function: config.functionName },
      });
      this.emf = new EmfExporter(this.instruments.registry, powertools);
    }
    if (config.remoteWrite) {
      this.remoteWrite = new RemoteWriteExporter(this.instruments.registry, {
        url: config.remoteWrite.url,
        instance: this.instance,
        budgetMs: config.remoteWrite.budgetMs,
        sign: config.remoteWrite.sigv4Region ? sigv4Signer(config.remoteWrite.sigv4Region) : undefined,
        fetch: deps.fetch,
      });
    }
    this.instruments.coldStarts.inc();
  }

  /** `now` stamps the remote-write samples (tests replay a run in the past). */
  async flush(now = Date.now()): Promise<FlushReport> {
    const [emfValues, pushed] = await Promise.all([
      this.emf?.flush().catch((error: unknown) => {
        this.log(JSON.stringify({ level: 'WARN', message: 'EMF flush failed', error: (error as Error).message }));
        return 0;
      }) ?? Promise.resolve(0),
      this.remoteWrite?.push(now),
    ]);
    if (pushed === undefined) return { emfValues, remoteWrite: 'off' };
    if (pushed.ok) return { emfValues, remoteWrite: 'ok' };
    this.instruments.remoteWriteFailures.inc();
    this.log(
      JSON.stringify({
        level: 'WARN',
        message: 'remote write failed',
        url: this.config.remoteWrite?.url,
        error: pushed.error,
      }),
    );
    return { emfValues, remoteWrite: 'failed' };
  }
}
