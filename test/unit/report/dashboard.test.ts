import { describe, expect, it } from 'vitest';
import { formatValue } from '../../../dev/report/chart';
import { expandGrafanaVariables, legendName, loadDashboard } from '../../../dev/report/dashboard';

/**
 * The report sends a panel's PromQL as Grafana would: variables expanded by Grafana's documented rules
 * (https://grafana.com/docs/grafana/latest/datasources/prometheus/template-variables/).
 */
const vars = { functions: ['a'], intervalSeconds: 1, scrapeIntervalSeconds: 15, rangeSeconds: 3600 };

describe("the dashboard's queries as Grafana sends them", () => {
  it('gives $__rate_interval as max($__interval + scrape interval, 4 × scrape interval)', () => {
    expect(expandGrafanaVariables('rate(x[$__rate_interval])', vars)).toBe('rate(x[60s])');
    expect(expandGrafanaVariables('rate(x[$__rate_interval])', { ...vars, intervalSeconds: 120 })).toBe(
      'rate(x[135s])',
    );
  });

  it('gives $__range and $__interval in seconds', () => {
    expect(expandGrafanaVariables('increase(x[$__range]) [$__interval]', vars)).toBe('increase(x[3600s]) [1s]');
  });

  it('expands a multi-value $function to a regex of escaped values, and All to its allValue', () => {
    const expr = 'x{function=~"$function"}';
    expect(expandGrafanaVariables(expr, { ...vars, functions: ['dev-a.b', 'c'] })).toBe('x{function=~"(dev-a\\.b|c)"}');
    expect(expandGrafanaVariables(expr, { ...vars, functions: 'all' })).toBe('x{function=~".*"}');
  });

  it('names a series by the legend format, or by its labels without one', () => {
    expect(legendName('P95 {{kind}}', { kind: 'navigations.insert' })).toBe('P95 navigations.insert');
    expect(legendName('', { stage: 'written', reason: '' })).toBe('{stage="written", reason=""}');
  });

  it('reads every panel of the shipped dashboard, each with a query', () => {
    const panels = loadDashboard();
    expect(panels.length).toBeGreaterThanOrEqual(12);
    for (const panel of panels) expect(panel.targets.length, panel.title).toBeGreaterThan(0);
  });
});

describe('values on an axis, in the panel’s unit', () => {
  it.each([
    ['s', 0.00025, '250 µs'],
    ['s', 0.0421, '42.1 ms'],
    ['s', 10_834.4, '10,834 s'],
    ['percentunit', 0.985, '98.5%'],
    ['bytes', 3 * 2 ** 20, '3 MiB'],
    ['rps', 12_345, '12.3k/s'],
    ['ops', 42, '42 ops/s'],
    ['short', 7, '7'],
  ])('%s %d reads %s', (unit, value, text) => {
    expect(formatValue(unit, value)).toBe(text);
  });
});
