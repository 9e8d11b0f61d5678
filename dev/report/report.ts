import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promqlRange } from '../stack/prometheus';
import {
  type ChartFrame,
  type ChartMarks,
  type ChartSeries,
  type DrawnChart,
  heatmapChart,
  lineChart,
  statChart,
} from './chart';
import { type DashboardPanel, expandGrafanaVariables, legendName, loadDashboard } from './dashboard';

/**
 * The run report: one self-contained HTML file that draws, over a run's time range, every panel of the shipped
 * Grafana dashboard with the panel's own PromQL (read from Prometheus's query_range API, variables expanded as
 * Grafana would), after the run's own charts (the incident picture of bench:tail, chaos's faults). `npm start`,
 * `npm run bench:tail` and `npm run chaos` write one; test/integration/metrics/report.test.ts opens one in Chromium.
 */

/** A chart of the run's own, drawn above the dashboard's panels (same queries' style, same marks). */
export interface RunChart {
  title: string;
  description: string;
  unit: string;
  targets: { expr: string; legendFormat: string }[];
  logScale?: boolean;
}

export interface RunReportOptions {
  prometheusUrl: string;
  /** Where the HTML goes (its folder is created). */
  file: string;
  title: string;
  /** The command that made the run, printed in the report. */
  command: string;
  /** The dashboard's `$function` selection. */
  functions: readonly string[] | 'all';
  start: number;
  end: number;
  /** How often the functions remote-write (Grafana's data-source scrape interval, for `$__rate_interval`). */
  scrapeIntervalSeconds: number;
  marks?: ChartMarks;
  charts?: RunChart[];
  /** Lines of the run's own summary, shown under the title. */
  summary?: string[];
}

/** What each drawn panel held: the figure the browser test checks the page against. */
export interface DrawnPanel {
  title: string;
  series: number;
  points: number;
}

export interface RunReport {
  file: string;
  panels: DrawnPanel[];
  /** The panels with no series over the run (e.g. statement errors when no statement failed). */
  empty: string[];
}

/** A page 1,200 px wide in 24 columns, as Grafana's grid; a panel's height is Grafana's 8 rows. */
const PAGE_WIDTH = 1200;
const PANEL_HEIGHT = 260;

export async function writeRunReport(options: RunReportOptions): Promise<RunReport> {
  const rangeSeconds = (options.end - options.start) / 1000;
  // $__interval: Grafana divides the range by the panel's width in points, never finer than the scrape interval.
  const stepSeconds = Math.max(options.scrapeIntervalSeconds, Math.ceil(rangeSeconds / 300));
  const variables = {
    functions: options.functions,
    intervalSeconds: stepSeconds,
    scrapeIntervalSeconds: options.scrapeIntervalSeconds,
    rangeSeconds,
  };
  const range = { start: options.start, end: options.end, stepSeconds };
  const query = async (target: { expr: string; legendFormat: string }) =>
    (await promqlRange(options.prometheusUrl, expandGrafanaVariables(target.expr, variables), range)).map((s) => ({
      labels: s.metric,
      name: legendName(target.legendFormat, s.metric),
      points: s.values.map(([t, v]) => [t * 1000, Number(v)] as [number, number]),
    }));

  const drawn: DrawnPanel[] = [];
  const figures: string[] = [];
  const frame = (unit: string, width: number, logScale?: boolean) => ({
    start: options.start,
    end: options.end,
    width: Math.round((PAGE_WIDTH * width) / 24) - 12,
    height: PANEL_HEIGHT,
    unit,
    marks: options.marks,
    logScale,
  });
  const figure = (
    panel: { title: string; description: string; width: number },
    series: ChartSeries[],
    chart: DrawnChart | undefined,
  ) => {
    const points = series.reduce((n, s) => n + s.points.filter(([, v]) => Number.isFinite(v)).length, 0);
    drawn.push({ title: panel.title, series: series.length, points });
    figures.push(
      `<figure class="panel" style="grid-column: span ${panel.width}" data-panel="${escapeHtml(panel.title)}" ` +
        `data-series="${series.length}" data-points="${points}" data-plot-top="${chart?.plotTop ?? 0}">` +
        `<figcaption title="${escapeHtml(panel.description)}">${escapeHtml(panel.title)}</figcaption>` +
        (chart ? chart.svg : '<p class="no-data">No data</p>') +
        '</figure>',
    );
  };

  for (const chart of options.charts ?? []) {
    const series = (await Promise.all(chart.targets.map(query))).flat();
    figure(
      { ...chart, width: 24 },
      series,
      series.length ? lineChart(series, frame(chart.unit, 24, chart.logScale)) : undefined,
    );
  }
  if (options.charts?.length) figures.push('<h2>The dashboard (dashboards/processors.json)</h2>');
  for (const panel of loadDashboard()) {
    const series = (await Promise.all(panel.targets.map(query))).flat();
    figure(panel, series, drawPanel(panel, series, frame(panel.unit, panel.width)));
  }

  mkdirSync(path.dirname(options.file), { recursive: true });
  writeFileSync(options.file, page(options, figures, stepSeconds));
  return { file: options.file, panels: drawn, empty: drawn.filter((p) => p.series === 0).map((p) => p.title) };
}

function drawPanel(
  panel: DashboardPanel,
  series: (ChartSeries & { labels: Record<string, string> })[],
  frame: ChartFrame,
): DrawnChart | undefined {
  if (series.length === 0) return undefined;
  if (panel.type === 'heatmap')
    return heatmapChart(
      // Prometheus writes the last bound `+Inf`, which Number() does not read.
      series.map((s) => ({
        le: s.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(s.labels.le),
        points: s.points,
      })),
      { ...frame, marks: undefined },
    );
  if (panel.type === 'stat') return statChart(series[0] as ChartSeries, { ...frame, marks: undefined });
  return lineChart(series, frame);
}

const escapeHtml = (text: string) =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );

function page(options: RunReportOptions, figures: string[], stepSeconds: number): string {
  const time = (t: number) => new Date(t).toISOString().replace('T', ' ').slice(0, 19);
  const fns = options.functions === 'all' ? 'all' : options.functions.join(', ');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(options.title)}</title>
<style>
body { font-family: sans-serif; margin: 16px auto; max-width: ${PAGE_WIDTH + 32}px; color: #222; background: #f7f8fa; }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 16px; grid-column: span 24; margin: 12px 0 0; }
.meta { color: #555; font-size: 13px; margin: 0 0 12px; } .meta code { background: #eceef2; padding: 1px 4px; }
.summary { font-size: 12px; margin: 0 0 12px; white-space: pre-wrap; }
.grid { display: grid; grid-template-columns: repeat(24, 1fr); gap: 12px; }
.panel { margin: 0; background: #fff; border: 1px solid #dde1e6; border-radius: 4px; padding: 6px; min-width: 0; }
.panel figcaption { font-size: 13px; font-weight: bold; margin: 0 0 2px 4px; }
.panel svg { width: 100%; height: auto; display: block; }
.no-data { color: #888; text-align: center; padding: 100px 0; margin: 0; }
</style></head><body>
<h1>${escapeHtml(options.title)}</h1>
<p class="meta">${time(options.start)} – ${time(options.end)} UTC · function ${escapeHtml(fns)} · step ${stepSeconds} s · made by <code>${escapeHtml(options.command)}</code></p>
${options.summary?.length ? `<pre class="summary">${escapeHtml(options.summary.join('\n'))}</pre>` : ''}
<div class="grid">
${figures.join('\n')}
</div></body></html>
`;
}
