import { beforeAll, describe, expect, it } from 'vitest';
import { expandGrafanaVariables, loadDashboard } from '../../../dev/report/dashboard';
import { uniqueName } from '../endpoints';
import { query } from './prometheus';
import { SIMULATED_FLUSH_SECONDS, simulateRun } from './simulated-run';

/**
 * Every PromQL expression of the shipped Grafana dashboard runs against the real Prometheus after a short simulated
 * run of two containers (simulated-run.ts), and returns data: no parse error, no empty panel.
 */

const panels = loadDashboard();
const fn = uniqueName('dash');

/** Grafana's variables, as Grafana would expand them for this run ($__rate_interval 2m: 4 × the 30 s flushes). */
const expand = (expr: string) =>
  expandGrafanaVariables(expr, {
    functions: [fn],
    intervalSeconds: SIMULATED_FLUSH_SECONDS,
    scrapeIntervalSeconds: SIMULATED_FLUSH_SECONDS,
    rangeSeconds: 300,
  });

beforeAll(async () => {
  await simulateRun(fn);
});

describe('the Grafana dashboard', () => {
  const targets = panels.flatMap((panel) => panel.targets.map((target) => ({ panel: panel.title, expr: target.expr })));

  it('has panels with queries', () => {
    expect(panels.length).toBeGreaterThanOrEqual(12);
    expect(targets.length).toBeGreaterThanOrEqual(panels.length);
  });

  it.each(targets.map((t) => [`${t.panel}: ${t.expr}`, t.expr] as const))('%s returns data', async (_, expr) => {
    const result = await query(expand(expr));
    expect(result.error).toBeUndefined();
    expect(result.status).toBe('success');
    expect(result.data?.result.length).toBeGreaterThan(0);
    expect(result.data?.result.some((r) => Number.isFinite(Number(r.value[1])))).toBe(true);
  });
});
