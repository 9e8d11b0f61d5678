import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../../dev/stack/config';
import { MetricsPublisher, parseMetricsConfig } from '../../../lib/metrics';
import { uniqueName } from '../endpoints';
import { query, remoteWriteUrl } from './prometheus';

/**
 * Every PromQL expression of the shipped Grafana dashboard runs against the real Prometheus after a short simulated
 * run of two containers, and returns data: no parse error, no empty panel.
 */

interface Panel {
  title: string;
  targets: { expr: string }[];
}
const dashboard = JSON.parse(readFileSync(path.join(REPO_ROOT, 'dashboards/processors.json'), 'utf8')) as {
  panels: Panel[];
};
const fn = uniqueName('dash');

/** Grafana's variables, as Grafana would expand them for this run. */
const expand = (expr: string) =>
  expr.replaceAll('$__rate_interval', '2m').replaceAll('$__range', '5m').replaceAll('$function', fn);

beforeAll(async () => {
  const containers = [0, 1].map(
    () =>
      new MetricsPublisher(
        parseMetricsConfig({ FUNCTION_NAME: fn, METRICS_EMF: 'off', METRICS_REMOTE_WRITE_URL: remoteWriteUrl }),
      ),
  );
  // Four invocations per container, 30 s apart (sample timestamps), so rate() has points to work with.
  const now = Date.now();
  for (let step = 0; step < 4; step++) {
    for (const [i, c] of containers.entries()) {
      const m = c.instruments;
      m.records.inc({ stage: 'received', reason: '' }, 100);
      m.records.inc({ stage: 'decoded', reason: '' }, 99);
      m.records.inc({ stage: 'dead_lettered', reason: 'CODEC_TRUNCATED' }, 1);
      m.records.inc({ stage: 'written', reason: '' }, 99);
      m.decodeSeconds.observe(0.0002 + step * 0.00001);
      for (let s = 0; s < 20; s++) m.statementSeconds.observe({ kind: 'navigations.insert' }, 0.002 + s * 0.0001);
      m.statementSeconds.observe({ kind: 'identities.select' }, 0.00025);
      m.statementErrors.inc({ kind: 'navigations.insert', error_type: 'writeTimeout' });
      m.statementRetries.inc({ kind: 'navigations.insert' });
      m.speculativeExecutions.inc(3);
      m.speculativeWins.inc(2);
      m.inFlightStatements.set(8 + i);
      m.batchSeconds.observe({ outcome: 'ok' }, 0.05 + step * 0.01);
      m.schemaCacheLookups.inc({ result: 'hit' }, 99);
      m.schemaCacheLookups.inc({ result: 'miss' }, step === 0 ? 1 : 0);
      m.schemaCacheSize.set(2);
      m.recordAgeSeconds.set({ topic: 'navigation', partition: String(i) }, 1.5);
      m.remoteWriteFailures.inc(0);
      expect((await c.flush({ now: now - (3 - step) * 30_000, force: true })).remoteWrite).toBe('ok');
    }
  }
});

describe('the Grafana dashboard', () => {
  const targets = dashboard.panels.flatMap((panel) =>
    panel.targets.map((target) => ({ panel: panel.title, expr: target.expr })),
  );

  it('has panels with queries', () => {
    expect(dashboard.panels.length).toBeGreaterThanOrEqual(12);
    expect(targets.length).toBeGreaterThanOrEqual(dashboard.panels.length);
  });

  it.each(targets.map((t) => [`${t.panel}: ${t.expr}`, t.expr] as const))('%s returns data', async (_, expr) => {
    const result = await query(expand(expr));
    expect(result.error).toBeUndefined();
    expect(result.status).toBe('success');
    expect(result.data?.result.length).toBeGreaterThan(0);
    expect(result.data?.result.some((r) => Number.isFinite(Number(r.value[1])))).toBe(true);
  });
});
