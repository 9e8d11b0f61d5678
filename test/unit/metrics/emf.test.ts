import { afterEach, describe, expect, it, vi } from 'vitest';
import { MetricsPublisher, parseMetricsConfig } from '../../../lib/metrics';
import { sampleBuckets } from '../../../lib/metrics/emf';
import { LATENCY_BUCKETS } from '../../../lib/metrics/instruments';

/**
 * The EMF lines Powertools writes to stdout, checked against the CloudWatch Embedded Metric Format specification:
 * `_aws.Timestamp` (epoch ms), `_aws.CloudWatchMetrics` directives (Namespace, Dimensions as arrays of dimension
 * names, at most 30 per set, Metrics of at most 100 with a Name and a valid Unit), every metric and dimension a
 * member of the root object.
 */
const UNITS = new Set([
  'Seconds',
  'Microseconds',
  'Milliseconds',
  'Bytes',
  'Kilobytes',
  'Megabytes',
  'Gigabytes',
  'Terabytes',
  'Bits',
  'Kilobits',
  'Megabits',
  'Gigabits',
  'Terabits',
  'Percent',
  'Count',
  'Bytes/Second',
  'Kilobytes/Second',
  'Megabytes/Second',
  'Gigabytes/Second',
  'Terabytes/Second',
  'Bits/Second',
  'Kilobits/Second',
  'Megabits/Second',
  'Gigabits/Second',
  'Terabits/Second',
  'Count/Second',
  'None',
]);

function validateEmf(line: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const aws = line._aws as { Timestamp?: unknown; CloudWatchMetrics?: unknown } | undefined;
  if (!aws || typeof aws !== 'object') return ['no _aws object'];
  if (typeof aws.Timestamp !== 'number' || !Number.isInteger(aws.Timestamp))
    problems.push('_aws.Timestamp is not epoch ms');
  if (!Array.isArray(aws.CloudWatchMetrics) || aws.CloudWatchMetrics.length === 0)
    return [...problems, 'no CloudWatchMetrics'];
  for (const directive of aws.CloudWatchMetrics as Record<string, unknown>[]) {
    if (typeof directive.Namespace !== 'string' || directive.Namespace.length === 0) problems.push('Namespace');
    const sets = directive.Dimensions as unknown;
    if (!Array.isArray(sets)) problems.push('Dimensions is not an array');
    for (const set of (sets as unknown[]) ?? []) {
      if (!Array.isArray(set) || set.length > 30) problems.push('a dimension set is not an array of ≤ 30 names');
      for (const name of set as string[])
        if (typeof line[name] !== 'string') problems.push(`dimension ${name} has no string value`);
    }
    const metrics = directive.Metrics as { Name?: unknown; Unit?: unknown }[];
    if (!Array.isArray(metrics) || metrics.length === 0 || metrics.length > 100)
      problems.push('Metrics must hold 1 to 100');
    for (const metric of metrics ?? []) {
      if (typeof metric.Name !== 'string') problems.push('metric without Name');
      if (metric.Unit !== undefined && !UNITS.has(metric.Unit as string)) problems.push(`unit ${String(metric.Unit)}`);
      const value = line[metric.Name as string];
      const numbers = Array.isArray(value) ? value : [value];
      if (numbers.length > 100) problems.push(`metric ${String(metric.Name)} has ${numbers.length} values (> 100)`);
      if (!numbers.every((n) => typeof n === 'number' && Number.isFinite(n)))
        problems.push(`metric ${String(metric.Name)} has no numeric value`);
    }
  }
  return problems;
}

function captureStdout(): { lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: unknown) => {
    chunks.push(String(chunk));
    return true;
  });
  return {
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

afterEach(() => vi.restoreAllMocks());

describe('EMF output', () => {
  const publisher = () =>
    new MetricsPublisher(
      parseMetricsConfig({
        FUNCTION_NAME: 'navigation-enricher',
        METRICS_NAMESPACE: 'Test/Processors',
        METRICS_FLUSH_INTERVAL_MS: '0',
      }),
    );

  it('is valid EMF with deltas since the last flush, low-cardinality dimensions and the right units', async () => {
    const p = publisher();
    const m = p.instruments;
    m.records.inc({ stage: 'decoded', reason: '' }, 10);
    m.records.inc({ stage: 'dead_lettered', reason: 'CODEC_TRUNCATED' }, 2);
    m.deadLetters.inc(2);
    m.statementSeconds.observe({ kind: 'identities.select' }, 0.001);
    m.statementSeconds.observe({ kind: 'identities.select' }, 0.003);
    m.recordAgeSeconds.set({ topic: 'navigation', partition: '0' }, 4);
    m.recordAgeSeconds.set({ topic: 'navigation', partition: '1' }, 9);
    const out = captureStdout();
    const report = await p.flush();
    const lines = out.lines();
    expect(report.emfValues).toBeGreaterThan(0);
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(validateEmf(line)).toEqual([]);
    const all = Object.assign({}, ...lines) as Record<string, unknown>;
    expect(all.function).toBe('navigation-enricher');
    expect(lines.find((l) => l.reason === 'CODEC_TRUNCATED')?.records).toBe(2);
    // The per-function total the dead-letter alarm watches (infra/), with no reason dimension.
    expect(lines.find((l) => 'dead_letters' in l && !('reason' in l))?.dead_letters).toBe(2);
    expect(lines.find((l) => l.kind === 'identities.select')?.statement_avg_ms).toBeCloseTo(2, 6);
    expect(all.record_age_seconds_max).toBe(9);
    // The container's memory at the flush, in bytes.
    const memory = lines.find((l) => 'memory_rss_bytes' in l) as Record<string, unknown>;
    expect(memory.memory_rss_bytes).toBeGreaterThan(10 * 1024 * 1024);
    expect(JSON.stringify(memory._aws)).toContain('{"Name":"memory_rss_bytes","Unit":"Bytes"}');
    // No partition dimension: per-partition age lives in Prometheus only.
    expect(lines.some((l) => 'partition' in l)).toBe(false);

    // A second flush emits only what changed since the first.
    m.records.inc({ stage: 'decoded', reason: '' }, 3);
    const again = captureStdout();
    await p.flush();
    const decoded = again.lines().find((l) => l.stage === 'decoded');
    expect(decoded?.records).toBe(3);
  });

  it("goes out at the end of every invocation, whatever the remote-write interval: a container's last counts are never held back", async () => {
    const p = new MetricsPublisher(
      parseMetricsConfig({ FUNCTION_NAME: 'identity-linker', METRICS_FLUSH_INTERVAL_MS: '300000' }),
    );
    for (const deadLetters of [2, 1]) {
      p.instruments.deadLetters.inc(deadLetters);
      const out = captureStdout();
      const report = await p.flush();
      expect(report.remoteWrite).toBe('off');
      expect(out.lines().find((l) => 'dead_letters' in l && !('reason' in l))?.dead_letters).toBe(deadLetters);
      vi.restoreAllMocks();
    }
  });
});

/** Prometheus's histogram_quantile: linear interpolation inside the bucket that holds the rank. */
function histogramQuantile(q: number, observations: number[]): number {
  const rank = q * observations.length;
  let lower = 0;
  for (const le of LATENCY_BUCKETS) {
    const below = observations.filter((o) => o <= lower).length;
    const upTo = observations.filter((o) => o <= le).length;
    if (upTo >= rank) return lower + ((le - lower) * (rank - below)) / Math.max(1, upTo - below);
    lower = le;
  }
  return lower;
}

/** CloudWatch's percentile of raw values (nearest rank). */
function percentile(q: number, values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] as number;
}

const bucketOf = (seconds: number) => LATENCY_BUCKETS.findIndex((le) => seconds <= le);

describe('latency distributions for CloudWatch percentiles', () => {
  // A skewed statement latency: most around 2 ms, a tail up to 400 ms (a seeded, repeatable draw).
  let seed = 7;
  const next = () => {
    seed = (seed * 48271) % 2147483647;
    return seed / 2147483647;
  };
  const draw = (n: number) =>
    Array.from({ length: n }, () => (next() < 0.9 ? 0.001 + next() * 0.003 : 0.01 + next() * 0.39));

  it.each([40, 100, 5000])(
    'gives a P50/P95/P99 in the same bucket as the Prometheus histogram, %s observations in one flush',
    async (n) => {
      const p = new MetricsPublisher(
        parseMetricsConfig({ FUNCTION_NAME: 'navigation-enricher', METRICS_FLUSH_INTERVAL_MS: '0' }),
      );
      const observations = draw(n);
      for (const o of observations) p.instruments.statementSeconds.observe({ kind: 'navigations.insert' }, o);
      const out = captureStdout();
      await p.flush();
      const lines = out.lines();
      for (const line of lines) expect(validateEmf(line)).toEqual([]);
      const values = lines
        .filter((l) => l.kind === 'navigations.insert' && 'statement_ms' in l)
        .flatMap((l) => l.statement_ms as number | number[]);
      // Every observation while they fit in one array; then 100 in proportion, plus at most one per rare bucket.
      if (n <= 100) expect(values.length).toBe(n);
      else expect(values.length).toBeGreaterThanOrEqual(100);
      expect(values.length).toBeLessThanOrEqual(100 + LATENCY_BUCKETS.length);
      for (const q of [0.5, 0.95, 0.99]) {
        expect(bucketOf(percentile(q, values) / 1000), `P${q * 100}`).toBe(
          bucketOf(histogramQuantile(q, observations)),
        );
      }
    },
  );

  it('keeps one value for every non-empty bucket, so a rare slow tail stays visible', () => {
    const cumulative: [number, number][] = LATENCY_BUCKETS.map((le) => [le, le >= 0.001 ? 9_999 : 0]);
    cumulative.push([Number.POSITIVE_INFINITY, 10_000]); // one observation past 15 s
    const samples = sampleBuckets(cumulative);
    expect(samples.length).toBe(100);
    expect(samples.filter((ms) => ms === 15_000)).toHaveLength(1); // 1 in 10,000, still there
    expect(samples.filter((ms) => ms === 0.75)).toHaveLength(99); // the midpoint of the (0.5 ms, 1 ms] bucket
  });
});
