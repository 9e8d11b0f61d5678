import type { Metrics } from '@aws-lambda-powertools/metrics';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { MetricObjectWithValues, MetricValue } from 'prom-client';

/** The registry's values at one instant (`registry.getMetricsAsJSON()`), read once per flush for both exporters. */
export type Snapshot = MetricObjectWithValues<MetricValue<string>>[];

type Unit = (typeof MetricUnit)[keyof typeof MetricUnit];
type Labels = Partial<Record<string, string | number>>;

/**
 * CloudWatch Embedded Metric Format through Powertools Metrics. The registry is cumulative for the container's
 * life; CloudWatch wants what happened since the last flush, so each flush emits deltas: counters as Count,
 * histograms as their mean (Milliseconds or Seconds) and count, gauges as their value. Percentiles come from
 * Prometheus (remote write), which keeps the buckets.
 *
 * Dimensions stay few and low-cardinality (Powertools refuses more than 29): `service` and `function` on every
 * metric, plus the series' own labels (stage, kind, error_type, reason...) on the few series that have them. The
 * per-partition record age is folded into one maximum.
 */
export class EmfExporter {
  private readonly last = new Map<string, number>();
  private readonly groups = new Map<string, Metrics>();

  /**
   * @param metrics the container's Powertools instance (default dimensions: service, function)
   * @param metricsWith a Powertools instance that also carries a series' own dimensions (one per dimension set and
   *   flush: `singleMetric()` publishes each value at once, a document per value)
   */
  constructor(
    private readonly metrics: Metrics,
    private readonly metricsWith: (dimensions: Record<string, string>) => Metrics,
  ) {}

  /** Emits the deltas since the last flush to stdout; returns how many metric values were emitted. */
  flush(snapshot: Snapshot): number {
    let emitted = 0;
    const used = new Set<Metrics>();
    const metricsFor = (labels: Record<string, string>): Metrics => {
      const metrics = this.groupFor(labels);
      used.add(metrics);
      return metrics;
    };
    const emit = (name: string, unit: Unit, value: number, labels: Record<string, string>) => {
      emitted++;
      metricsFor(labels).addMetric(name, unit, value);
    };
    for (const metric of snapshot) {
      const base = metric.name.replace(/^processor_/, '').replace(/_total$/, '');
      if (String(metric.type) === 'counter') {
        for (const value of metric.values) {
          const delta = this.delta(metric.name, value.labels, value.value);
          if (delta > 0) emit(base, MetricUnit.Count, delta, dimensions(value.labels));
        }
      } else if (String(metric.type) === 'gauge') {
        if (metric.values.some((v) => 'partition' in v.labels)) {
          const max = Math.max(...metric.values.map((v) => v.value));
          if (Number.isFinite(max)) emit(`${base}_max`, MetricUnit.Seconds, max, {});
        } else {
          const unit = base.endsWith('_bytes') ? MetricUnit.Bytes : MetricUnit.Count;
          for (const value of metric.values) emit(base, unit, value.value, dimensions(value.labels));
        }
      } else if (String(metric.type) === 'histogram') {
        const sums = new Map<string, number>();
        for (const value of metric.values) {
          const name = (value as { metricName?: string }).metricName ?? '';
          if (name.endsWith('_sum')) sums.set(seriesKey('', value.labels), this.delta(name, value.labels, value.value));
        }
        for (const value of metric.values) {
          const name = (value as { metricName?: string }).metricName ?? '';
          if (!name.endsWith('_count')) continue;
          const count = this.delta(name, value.labels, value.value);
          if (count <= 0) continue;
          const mean = (sums.get(seriesKey('', value.labels)) ?? 0) / count;
          const seconds = base.endsWith('_seconds');
          const label = dimensions(value.labels);
          emit(
            seconds ? base.replace(/_seconds$/, '_avg_ms') : `${base}_avg`,
            seconds ? MetricUnit.Milliseconds : MetricUnit.Count,
            seconds ? mean * 1000 : mean,
            label,
          );
          emit(`${base.replace(/_seconds$/, '')}_count`, MetricUnit.Count, count, label);
        }
        if (DISTRIBUTIONS.has(metric.name)) emitted += this.distributions(metric, base, metricsFor);
      }
    }
    for (const metrics of used) metrics.publishStoredMetrics();
    return emitted;
  }

  /**
   * One EMF document per dimension set, as Powertools groups metrics: a series' mean, count and distribution travel
   * together instead of a document each (CloudWatch Logs bills ingestion by the byte). The instances live as long as
   * the container (label values are few), not rebuilt on every flush.
   */
  private groupFor(labels: Record<string, string>): Metrics {
    if (Object.keys(labels).length === 0) return this.metrics;
    const key = seriesKey('', labels);
    let group = this.groups.get(key);
    if (!group) {
      group = this.metricsWith(labels);
      this.groups.set(key, group);
    }
    return group;
  }

  /**
   * A latency histogram as CloudWatch can take percentiles of it: per series, the flush's observations as values
   * (each a bucket's midpoint, in ms) in an EMF value array. Up to DISTRIBUTION_SAMPLES observations go as they
   * are; above that, DISTRIBUTION_SAMPLES values spread over the buckets in proportion (every non-empty bucket
   * keeps one, so the tail stays visible). Powertools splits arrays past EMF's 100 values into further documents.
   * Trade-off: a flush of 5,000 statements weighs as much as one of 100 in CloudWatch's percentiles; the means and
   * counts above stay exact, and Prometheus keeps the full buckets.
   */
  private distributions(
    metric: Snapshot[number],
    base: string,
    metricsFor: (labels: Record<string, string>) => Metrics,
  ): number {
    const bySeries = new Map<string, { labels: Labels; buckets: [number, number][] }>();
    for (const value of metric.values) {
      if (!((value as { metricName?: string }).metricName ?? '').endsWith('_bucket')) continue;
      const key = seriesKey('', value.labels);
      const series = bySeries.get(key) ?? { labels: value.labels, buckets: [] };
      const le = value.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(value.labels.le);
      // seriesKey leaves `le` out (it pairs _sum with _count): the bucket's bound goes into the name instead.
      const delta = this.delta(`${metric.name}_bucket{le=${value.labels.le}}`, value.labels, value.value);
      series.buckets.push([le, delta]);
      bySeries.set(key, series);
    }
    let emitted = 0;
    const name = base.replace(/_seconds$/, '_ms');
    for (const { labels, buckets } of bySeries.values()) {
      const samples = sampleBuckets(buckets);
      if (samples.length === 0) continue;
      const metrics = metricsFor(dimensions(labels));
      for (const ms of samples) metrics.addMetric(name, MetricUnit.Milliseconds, ms);
      emitted += samples.length;
    }
    return emitted;
  }

  private delta(name: string, labels: Labels, value: number): number {
    const key = seriesKey(name, labels);
    const previous = this.last.get(key) ?? 0;
    this.last.set(key, value);
    return value - previous;
  }
}

/** The histograms exported as distributions (CloudWatch percentiles): batch duration and statement latency. */
const DISTRIBUTIONS = new Set(['processor_batch_seconds', 'processor_statement_seconds']);
const DISTRIBUTION_SAMPLES = 100;

/**
 * A flush's observations from cumulative bucket deltas (`[le, count]`, seconds): one value per observation at its
 * bucket's midpoint in ms, or DISTRIBUTION_SAMPLES in proportion when there are more (largest remainders).
 */
export function sampleBuckets(cumulative: [number, number][]): number[] {
  const sorted = [...cumulative].sort((a, b) => a[0] - b[0]);
  const buckets: { ms: number; count: number }[] = [];
  let lower = 0;
  let below = 0;
  let lastFinite = 0;
  for (const [le, total] of sorted) {
    const count = total - below;
    below = total;
    const upper = Number.isFinite(le) ? le : lastFinite;
    if (count > 0) buckets.push({ ms: ((lower + upper) / 2) * 1000, count });
    if (Number.isFinite(le)) {
      lower = le;
      lastFinite = le;
    }
  }
  const total = buckets.reduce((sum, b) => sum + b.count, 0);
  if (total <= DISTRIBUTION_SAMPLES) return buckets.flatMap((b) => new Array<number>(b.count).fill(b.ms));
  const shares = buckets.map((b) => {
    const exact = (b.count * DISTRIBUTION_SAMPLES) / total;
    return { ...b, n: Math.max(1, Math.floor(exact)), rest: exact - Math.floor(exact) };
  });
  let left = DISTRIBUTION_SAMPLES - shares.reduce((sum, b) => sum + b.n, 0);
  for (const b of [...shares].sort((x, y) => y.rest - x.rest)) {
    if (left <= 0) break;
    b.n++;
    left--;
  }
  return shares.flatMap((b) => new Array<number>(b.n).fill(b.ms));
}

function seriesKey(name: string, labels: Labels): string {
  return `${name}{${Object.entries(labels)
    .filter(([key]) => key !== 'le')
    .sort()
    .map(([key, value]) => `${key}=${value}`)
    .join(',')}}`;
}

/** A series' labels as EMF dimensions: `function` is already a default dimension; empty values are dropped. */
function dimensions(labels: Labels): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(labels)) {
    if (key !== 'function' && key !== 'le' && value !== '' && value !== undefined) out[key] = String(value);
  }
  return out;
}
