import { readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../../infra/repo-root';

/** The shipped Grafana dashboard: the report draws its panels with their own queries, so the two cannot drift. */
export const DASHBOARD_FILE = path.join(REPO_ROOT, 'dashboards/processors.json');

export type PanelType = 'timeseries' | 'heatmap' | 'stat';

export interface DashboardPanel {
  title: string;
  type: PanelType;
  description: string;
  /** Grafana's unit id: s, rps, ops, percentunit, bytes, short. */
  unit: string;
  /** Grafana's grid width (of 24). */
  width: number;
  targets: { expr: string; legendFormat: string }[];
}

interface GrafanaPanel {
  title: string;
  type: string;
  description?: string;
  fieldConfig?: { defaults?: { unit?: string } };
  gridPos?: { w?: number };
  targets?: { expr: string; legendFormat?: string }[];
}

export function loadDashboard(file = DASHBOARD_FILE): DashboardPanel[] {
  const dashboard = JSON.parse(readFileSync(file, 'utf8')) as { panels: GrafanaPanel[] };
  return dashboard.panels.map((p) => {
    if (p.type !== 'timeseries' && p.type !== 'heatmap' && p.type !== 'stat')
      throw new Error(`${file}: panel "${p.title}" is a ${p.type}, which the run report does not draw`);
    return {
      title: p.title,
      type: p.type,
      description: p.description ?? '',
      unit: p.fieldConfig?.defaults?.unit ?? 'short',
      width: p.gridPos?.w ?? 12,
      targets: (p.targets ?? []).map((t) => ({ expr: t.expr, legendFormat: t.legendFormat ?? '' })),
    };
  });
}

export interface GrafanaVariables {
  /** The dashboard's `$function` selection: some functions, or All (the variable's allValue, `.*`). */
  functions: readonly string[] | 'all';
  /** `$__interval`: the query's step. */
  intervalSeconds: number;
  /** The data source's scrape interval: here, how often the functions remote-write. */
  scrapeIntervalSeconds: number;
  /** `$__range`: the time range's length. */
  rangeSeconds: number;
}

const escapeRegex = (value: string) => value.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');

/**
 * A panel's PromQL as Grafana sends it. A multi-value variable becomes `(a|b)` of regex-escaped values, All its
 * allValue; `$__rate_interval` is max($__interval + scrape interval, 4 × scrape interval), Grafana's documented rule
 * (https://grafana.com/docs/grafana/latest/datasources/prometheus/template-variables/#use-__rate_interval).
 */
export function expandGrafanaVariables(expr: string, vars: GrafanaVariables): string {
  const fn =
    vars.functions === 'all'
      ? '.*'
      : vars.functions.length === 1
        ? escapeRegex(vars.functions[0] as string)
        : `(${vars.functions.map(escapeRegex).join('|')})`;
  const rateInterval = Math.max(vars.intervalSeconds + vars.scrapeIntervalSeconds, 4 * vars.scrapeIntervalSeconds);
  return expr
    .replaceAll('$__rate_interval', `${Math.ceil(rateInterval)}s`)
    .replaceAll('$__range', `${Math.ceil(vars.rangeSeconds)}s`)
    .replaceAll('$__interval', `${Math.ceil(vars.intervalSeconds)}s`)
    .replaceAll('$function', fn);
}

/** A series' name as Grafana's legend format gives it: `{{label}}` from the series' labels. */
export function legendName(format: string, labels: Record<string, string>): string {
  if (!format) {
    const pairs = Object.entries(labels).filter(([k]) => k !== '__name__');
    return pairs.length ? `{${pairs.map(([k, v]) => `${k}="${v}"`).join(', ')}}` : 'value';
  }
  return format.replace(/\{\{\s*(\w+)\s*\}\}/g, (_, label: string) => labels[label] ?? '');
}
