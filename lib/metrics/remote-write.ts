import { setTimeout as sleep } from 'node:timers/promises';
import snappy from 'snappyjs';
import type { Snapshot } from './emf';
import { ProtoWriter } from './protobuf';

/**
 * Prometheus remote write 1.0: the registry's current (cumulative) values as one WriteRequest, protobuf + snappy,
 * POSTed with the headers the spec requires. A Lambda cannot be scraped, so each container pushes its own series,
 * told apart by an `instance` label made at cold start. A push is bounded in time: a dead or slow receiver costs at
 * most `budgetMs`, never a stalled batch; retried only on 5xx and 429 (a 4xx will not get better).
 */

export interface RemoteWriteOptions {
  url: string;
  /** This container's series label, made once at cold start. */
  instance: string;
  job?: string;
  /** Labels added to every series. */
  labels?: Record<string, string>;
  /** The whole push, retries included. */
  budgetMs?: number;
  retries?: number;
  /** Extra headers (a bearer token); or a signer for Amazon Managed Prometheus (SigV4). */
  headers?: Record<string, string>;
  sign?: (request: {
    url: string;
    headers: Record<string, string>;
    body: Uint8Array;
  }) => Promise<Record<string, string>>;
  fetch?: typeof fetch;
}

export type PushResult = { ok: true; series: number; bytes: number } | { ok: false; error: string };

export class RemoteWriteExporter {
  private readonly budgetMs: number;
  private readonly retries: number;
  private readonly fetchImpl: typeof fetch;
  private lastTimestamp = 0;

  constructor(private readonly options: RemoteWriteOptions) {
    this.budgetMs = options.budgetMs ?? 1_000;
    this.retries = options.retries ?? 2;
    this.fetchImpl = options.fetch ?? fetch;
  }

  async push(snapshot: Snapshot, now = Date.now()): Promise<PushResult> {
    // Samples of a series must move forward in time; two pushes within one millisecond would collide.
    const timestamp = Math.max(now, this.lastTimestamp + 1);
    this.lastTimestamp = timestamp;
    const { body: raw, series } = encodeWriteRequest(snapshot, {
      instance: this.options.instance,
      job: this.options.job ?? 'kafka-processors',
      labels: this.options.labels ?? {},
      timestamp,
    });
    const body = snappy.compress(raw);
    let headers: Record<string, string> = {
      'Content-Encoding': 'snappy',
      'Content-Type': 'application/x-protobuf',
      'User-Agent': 'kafka-processors-remote-write/1.0',
      'X-Prometheus-Remote-Write-Version': '0.1.0',
      ...this.options.headers,
    };
    const deadline = Date.now() + this.budgetMs;
    let last = '';
    for (let attempt = 0; attempt <= this.retries; attempt++) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      try {
        if (this.options.sign)
          headers = { ...headers, ...(await this.options.sign({ url: this.options.url, headers, body })) };
        const response = await this.fetchImpl(this.options.url, {
          method: 'POST',
          headers,
          body,
          signal: AbortSignal.timeout(left),
        });
        if (response.ok) return { ok: true, series, bytes: body.length };
        last = `${response.status} ${(await response.text().catch(() => '')).slice(0, 200)}`;
        if (response.status !== 429 && response.status < 500) break;
      } catch (error) {
        last = (error as Error).message;
      }
      const pause = Math.min(deadline - Date.now(), 50 * 2 ** attempt * Math.random());
      if (pause > 0) await sleep(pause);
    }
    return { ok: false, error: last || `no answer within ${this.budgetMs} ms` };
  }
}

/** Builds the WriteRequest: every series with its labels sorted by name (the spec requires it), one sample each. */
export function encodeWriteRequest(
  metrics: Snapshot,
  common: { instance: string; job: string; labels: Record<string, string>; timestamp: number },
): { body: Buffer; series: number } {
  const writer = new ProtoWriter(64 * 1024);
  let series = 0;
  for (const metric of metrics) {
    for (const value of metric.values) {
      const name = (value as { metricName?: string }).metricName ?? metric.name;
      const labels: [string, string][] = [
        ['__name__', name],
        ['instance', common.instance],
        ['job', common.job],
        ...Object.entries(common.labels),
      ];
      for (const [key, label] of Object.entries(value.labels)) {
        if (label !== undefined) labels.push([key, String(label)]);
      }
      labels.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
      writer.message(1, (ts) => {
        for (const [key, label] of labels) {
          ts.message(1, (l) => {
            l.string(1, key);
            l.string(2, label);
          });
        }
        ts.message(2, (sample) => {
          sample.double(1, value.value);
          sample.int64(2, common.timestamp);
        });
      });
      series++;
    }
  }
  return { body: writer.finish(), series };
}
