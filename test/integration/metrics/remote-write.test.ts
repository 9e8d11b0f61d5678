import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { MetricsPublisher, parseMetricsConfig } from '../../../lib/metrics';
import { uniqueName } from '../endpoints';
import { query, remoteWriteUrl } from './prometheus';

function container(functionName: string, url = remoteWriteUrl, budgetMs = 2_000, log?: (line: string) => void) {
  return new MetricsPublisher(
    parseMetricsConfig({
      FUNCTION_NAME: functionName,
      METRICS_EMF: 'off',
      METRICS_REMOTE_WRITE_URL: url,
      METRICS_REMOTE_WRITE_BUDGET_MS: String(budgetMs),
      METRICS_FLUSH_INTERVAL_MS: '0',
    }),
    { log },
  );
}

describe('remote write to the real Prometheus', () => {
  it('pushes histograms and counters from two containers: counters sum across instances, quantiles land in the right bucket', async () => {
    const fn = uniqueName('rw');
    const [a, b] = [container(fn), container(fn)];
    expect(a.instance).not.toBe(b.instance);
    // Container a: 90 fast SELECTs (~250 µs) and 10 slow ones (~20 ms); container b: 100 more fast ones.
    for (let i = 0; i < 90; i++) a.instruments.statementSeconds.observe({ kind: 'select' }, 0.0002);
    for (let i = 0; i < 10; i++) a.instruments.statementSeconds.observe({ kind: 'select' }, 0.02);
    for (let i = 0; i < 100; i++) b.instruments.statementSeconds.observe({ kind: 'select' }, 0.0002);
    a.instruments.records.inc({ stage: 'decoded', reason: '' }, 120);
    b.instruments.records.inc({ stage: 'decoded', reason: '' }, 80);
    expect((await a.flush()).remoteWrite).toBe('ok');
    expect((await b.flush()).remoteWrite).toBe('ok');

    const total = await query(`sum(processor_records_total{function="${fn}", stage="decoded"})`);
    expect(total.data?.result[0]?.value[1]).toBe('200');
    const instances = await query(`count(processor_records_total{function="${fn}", stage="decoded"})`);
    expect(instances.data?.result[0]?.value[1]).toBe('2');
    // 190 of 200 observations are ≤ 250 µs: the median falls in the (100 µs, 250 µs] bucket, P99 in (10 ms, 25 ms].
    const p50 = Number(
      (await query(`histogram_quantile(0.5, sum by (le) (processor_statement_seconds_bucket{function="${fn}"}))`)).data
        ?.result[0]?.value[1],
    );
    const p99 = Number(
      (await query(`histogram_quantile(0.99, sum by (le) (processor_statement_seconds_bucket{function="${fn}"}))`)).data
        ?.result[0]?.value[1],
    );
    expect(p50).toBeGreaterThan(0.0001);
    expect(p50).toBeLessThanOrEqual(0.00025);
    expect(p99).toBeGreaterThan(0.01);
    expect(p99).toBeLessThanOrEqual(0.025);
  });

  it('keeps counters cumulative across flushes of one container (warm invocations)', async () => {
    const fn = uniqueName('rw');
    const c = container(fn);
    c.instruments.records.inc({ stage: 'written', reason: '' }, 5);
    await c.flush();
    c.instruments.records.inc({ stage: 'written', reason: '' }, 7);
    await c.flush();
    const result = await query(`processor_records_total{function="${fn}", stage="written"}`);
    expect(result.data?.result.map((r) => r.value[1])).toEqual(['12']);
    const colds = await query(`processor_cold_starts_total{function="${fn}"}`);
    expect(colds.data?.result.map((r) => r.value[1])).toEqual(['1']);
  });

  it('exports at most once per flush interval, and the next export carries what was skipped', async () => {
    const fn = uniqueName('rw');
    const c = new MetricsPublisher(
      parseMetricsConfig({
        FUNCTION_NAME: fn,
        METRICS_EMF: 'off',
        METRICS_REMOTE_WRITE_URL: remoteWriteUrl,
        METRICS_FLUSH_INTERVAL_MS: '60000',
      }),
    );
    c.instruments.records.inc({ stage: 'written', reason: '' }, 1);
    expect((await c.flush()).remoteWrite).toBe('ok'); // the first batch of a container always exports
    c.instruments.records.inc({ stage: 'written', reason: '' }, 2);
    expect((await c.flush()).remoteWrite).toBe('not due');
    c.instruments.records.inc({ stage: 'written', reason: '' }, 4);
    expect((await c.flush({ force: true })).remoteWrite).toBe('ok');
    const result = await query(`processor_records_total{function="${fn}", stage="written"}`);
    expect(result.data?.result.map((r) => r.value[1])).toEqual(['7']);
  });

  it('pushes once when overlapping invocations of a container flush together (no out-of-order samples)', async () => {
    const logs: string[] = [];
    const c = new MetricsPublisher(
      parseMetricsConfig({
        FUNCTION_NAME: uniqueName('rw'),
        METRICS_EMF: 'off',
        METRICS_REMOTE_WRITE_URL: remoteWriteUrl,
        METRICS_FLUSH_INTERVAL_MS: '60000',
      }),
      { log: (line) => logs.push(line) },
    );
    c.instruments.records.inc({ stage: 'written', reason: '' }, 1);
    const reports = await Promise.all([c.flush(), c.flush(), c.flush()]);
    expect(reports.map((r) => r.remoteWrite).sort()).toEqual(['not due', 'not due', 'ok']);
    expect(logs).toEqual([]);
  });
});

describe('a dead or slow receiver', () => {
  // Never answers; each request it gets is settled when the client gives up on it and closes the connection.
  const abandoned: Promise<void>[] = [];
  const hanging = http.createServer((req) => {
    abandoned.push(new Promise((resolve) => req.socket.once('close', resolve)));
  });
  afterAll(() => new Promise((resolve) => hanging.close(resolve)));

  it('gives up within its budget (the client closes what it sent), and the failure is logged and counted once', async () => {
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
    const slowUrl = `http://127.0.0.1:${(hanging.address() as AddressInfo).port}/api/v1/write`;
    for (const url of [slowUrl, 'http://127.0.0.1:1/api/v1/write']) {
      const logs: string[] = [];
      const c = container(uniqueName('rw'), url, 300, (line) => logs.push(line));
      const report = await c.flush();
      expect(report.remoteWrite).toBe('failed');
      expect(logs).toHaveLength(1);
      expect(JSON.parse(logs[0] as string)).toMatchObject({ level: 'WARN', message: 'remote write failed' });
      expect((await c.instruments.remoteWriteFailures.get()).values[0]?.value).toBe(1);
    }
    // The budget ended the slow receiver's request (it never answers): the flush above returned, and the connection
    // it held is closed by the client. No clock is read: a client that did not give up would hang this test.
    expect(abandoned.length).toBeGreaterThan(0);
    await Promise.all(abandoned);
  });
});
