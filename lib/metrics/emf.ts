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

  constructor(private readonly metrics: Metrics) {}

  /** Emits the deltas since the last flush to stdout; returns how many metric values were emitted. */
  flush(snapshot: Snapshot): number {
    let emitted = 0;
    const emit = (name: string, unit: Unit, value: number, labels: Record<string, string>) => {
      emitted++;
      if (Object.keys(labels).length === 0) {
        this.metrics.addMetric(name, unit, value);
        return;
      }
      const single = this.metrics.singleMetric();
      single.addDimensions(labels);
      single.addMetric(name, unit, value);
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
      }
    }
    if (emitted > 0) this.metrics.publishStoredMetrics();
    return emitted;
  }

  private delta(name: string, labels: Labels, value: number): number {
    const key = seriesKey(name, labels);
    const previous = this.last.get(key) ?? 0;
    this.last.set(key, value);
    return value - previous;
  }
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
