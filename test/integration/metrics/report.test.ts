import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { openReport, type SeenReport } from '../../../dev/report/browser';
import { loadDashboard } from '../../../dev/report/dashboard';
import { type RunReport, writeRunReport } from '../../../dev/report/report';
import { loadStackConfig } from '../../../dev/stack/config';
import { endpoints, uniqueName } from '../endpoints';
import { SIMULATED_FLUSH_SECONDS, simulateRun } from './simulated-run';

/**
 * The run report, opened as a person opens it: written from the real Prometheus after a simulated run, then loaded
 * in headless Chromium, which must lay out a series in every panel, log no error and fetch nothing. The screenshot
 * stays in the stack's state dir (its path is in the test's output) for a person to look at.
 */
const fn = uniqueName('report');
const reports = path.join(loadStackConfig().runDir, 'reports');
let report: RunReport;
let seen: SeenReport;
const screenshot = path.join(reports, `${fn}.png`);

beforeAll(async () => {
  const run = await simulateRun(fn);
  const middle = (run.start + run.end) / 2;
  report = await writeRunReport({
    prometheusUrl: endpoints.prometheusUrl,
    file: path.join(reports, `${fn}.html`),
    title: 'A simulated run',
    command: 'npx vitest run test/integration/metrics/report.test.ts',
    functions: [fn],
    start: run.start,
    end: run.end,
    scrapeIntervalSeconds: SIMULATED_FLUSH_SECONDS,
    marks: {
      windows: [{ label: 'second half', start: middle, end: run.end }],
      events: [{ label: 'a fault', at: middle }],
    },
    charts: [
      {
        title: 'Statement P95 and batch P95',
        description: 'the incident picture: one time axis',
        unit: 's',
        logScale: true,
        targets: [
          {
            expr: 'histogram_quantile(0.95, sum by (le) (rate(processor_statement_seconds_bucket{function=~"$function"}[$__rate_interval])))',
            legendFormat: 'statement P95',
          },
          {
            expr: 'histogram_quantile(0.95, sum by (le) (rate(processor_batch_seconds_bucket{function=~"$function"}[$__rate_interval])))',
            legendFormat: 'batch P95',
          },
        ],
      },
    ],
  });
  seen = await openReport(report.file, { screenshot });
  console.log(`report: ${report.file}, screenshot: ${screenshot}`);
});

describe('the run report in a browser', () => {
  it('draws a series in every panel of the dashboard, each with its own queries', () => {
    const titles = loadDashboard().map((p) => p.title);
    expect(seen.panels.map((p) => p.title)).toEqual(['Statement P95 and batch P95', ...titles]);
    expect(report.empty).toEqual([]);
    for (const panel of seen.panels) {
      expect.soft(panel.series, panel.title).toBeGreaterThan(0);
      expect.soft(panel.points, panel.title).toBeGreaterThan(0);
      expect.soft(panel.drawnShapes, panel.title).toBeGreaterThan(0);
    }
  });

  it('puts the run’s own chart first, with both lines and the run’s marks', () => {
    const html = readFileSync(report.file, 'utf8');
    expect(seen.panels[0]).toMatchObject({ series: 2 });
    expect(seen.panels[0]?.drawnShapes).toBeGreaterThanOrEqual(2);
    expect(html).toContain('second half');
    expect(html).toContain('a fault');
  });

  it('is self-contained: no request beyond the file, no console error', () => {
    expect(seen.requests).toEqual([]);
    expect(seen.errors).toEqual([]);
  });

  it('saves a PNG screenshot of the page', () => {
    const png = readFileSync(screenshot);
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    expect(png.length).toBeGreaterThan(20_000);
  });
});
