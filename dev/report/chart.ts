import * as echarts from 'echarts';

/**
 * Panels drawn to SVG on the server with Apache ECharts' SSR renderer: the report is a static page (no script, no
 * network, opens from a file anywhere, one SVG per panel), and ECharts draws what the dashboard has — time series,
 * heatmaps, shaded windows and event lines — without a DOM; uPlot needs one, and a page script of ~1 MB per report.
 */

/** Grafana's classic palette: the colours a series is drawn in (the browser test finds series by them). */
export const SERIES_COLORS = [
  '#7eb26d',
  '#eab839',
  '#6ed0e0',
  '#ef843c',
  '#e24d42',
  '#1f78c1',
  '#ba43a9',
  '#705da0',
  '#508642',
  '#cca300',
] as const;
/** A heatmap cell's colour, by its share of the panel's busiest cell (piecewise: exact colours, not a gradient). */
export const HEATMAP_COLORS = ['#fde2c0', '#fdbb84', '#fc8d59', '#ef6548', '#d7301f', '#990000'] as const;

export interface ChartSeries {
  name: string;
  /** [epoch ms, value]; NaN and infinities are gaps. */
  points: [number, number][];
}

/** What happened during the run, drawn over a chart: shaded windows (conditions) and lines (faults). */
export interface ChartMarks {
  windows?: { label: string; start: number; end: number }[];
  events?: { label: string; at: number }[];
}

export interface ChartFrame {
  start: number;
  end: number;
  width: number;
  height: number;
  unit: string;
  marks?: ChartMarks;
  logScale?: boolean;
}

/** A value with its Grafana unit, short enough for an axis. */
export function formatValue(unit: string, value: number): string {
  if (!Number.isFinite(value)) return String(value);
  // Three significant digits, but every integer digit of a large value: 10,830 s, not 10,800 s beside 10,800 s.
  const compact = (v: number) =>
    (Math.abs(v) >= 1000 ? Math.round(v) : Number(v.toPrecision(3))).toLocaleString('en-US');
  const scaled = (v: number, steps: [number, string][]) => {
    for (const [size, suffix] of steps) if (Math.abs(v) >= size) return `${compact(v / size)}${suffix}`;
    return compact(v);
  };
  switch (unit) {
    case 's':
      if (value === 0) return '0';
      if (Math.abs(value) < 1e-3) return `${compact(value * 1e6)} µs`;
      if (Math.abs(value) < 1) return `${compact(value * 1e3)} ms`;
      return `${compact(value)} s`;
    case 'percentunit':
      return `${compact(value * 100)}%`;
    case 'bytes':
      return `${scaled(value, [
        [2 ** 30, ' GiB'],
        [2 ** 20, ' MiB'],
        [2 ** 10, ' KiB'],
      ])}${Math.abs(value) < 1024 ? ' B' : ''}`;
    case 'rps':
      return `${scaled(value, [
        [1e6, 'M'],
        [1e3, 'k'],
      ])}/s`;
    case 'ops':
      return `${scaled(value, [
        [1e6, 'M'],
        [1e3, 'k'],
      ])} ops/s`;
    default:
      return scaled(value, [
        [1e6, 'M'],
        [1e3, 'k'],
      ]);
  }
}

const AXIS_TEXT = '#54555a';
/** Outside the series' palette, so a fault's line is never taken for a series. */
const FAULT_COLOR = '#8f3bb8';

/**
 * A drawn chart and its plot's top edge: above it, only the legend, which is drawn in the series' colours too (the
 * browser test counts shapes below it).
 */
export interface DrawnChart {
  svg: string;
  plotTop: number;
}

const LEGEND_ROW = 20;
/** The plot's top edge under a legend of `rows` rows. */
const belowLegend = (rows: number) => 14 + rows * LEGEND_ROW;
/**
 * How many rows ECharts wraps a legend into at the chart's width (11 px text: ~6.3 px a character, an icon and gaps
 * of ~35 px an item), so that a long legend pushes the plot down instead of covering it.
 */
function legendRows(names: string[], width: number): number {
  let rows = 1;
  let used = 0;
  for (const name of names) {
    const item = 35 + name.length * 6.3;
    if (used > 0 && used + item > width - 16) {
      rows++;
      used = 0;
    }
    used += item;
  }
  return rows;
}

/** A time axis whose labels do not run into each other: one label per ~110 px. */
const timeAxis = (frame: ChartFrame) => ({
  type: 'time' as const,
  min: frame.start,
  max: frame.end,
  splitNumber: Math.max(2, Math.floor((frame.width - 90) / 110)),
  axisLabel: { color: AXIS_TEXT, hideOverlap: true },
  splitLine: { show: false },
});

function render(option: echarts.EChartsOption, frame: ChartFrame): string {
  const chart = echarts.init(null, null, { renderer: 'svg', ssr: true, width: frame.width, height: frame.height });
  try {
    chart.setOption(option);
    return chart.renderToSVGString();
  } finally {
    chart.dispose();
  }
}

/** The run's marks, carried by one series: shaded windows with their label on top, dashed lines for events. */
function marks(frame: ChartFrame): Pick<echarts.LineSeriesOption, 'markArea' | 'markLine'> {
  const windows = frame.marks?.windows ?? [];
  const events = frame.marks?.events ?? [];
  return {
    ...(windows.length && {
      markArea: {
        silent: true,
        label: { position: 'insideTop' as const, color: AXIS_TEXT, fontSize: 11 },
        data: windows.map((w, i) => [
          {
            name: w.label,
            xAxis: w.start,
            itemStyle: { color: i % 2 ? 'rgba(31,120,193,0.10)' : 'rgba(239,132,60,0.12)' },
          },
          { xAxis: w.end },
        ]),
      },
    }),
    ...(events.length && {
      markLine: {
        silent: true,
        symbol: ['none', 'none'],
        lineStyle: { color: FAULT_COLOR, type: 'dashed' as const, width: 1 },
        label: { formatter: '{b}', color: FAULT_COLOR, fontSize: 10, position: 'insideEndTop' as const },
        data: events.map((e) => ({ name: e.label, xAxis: e.at })),
      },
    }),
  };
}

const finite = (points: [number, number][]) => points.map(([t, v]) => [t, Number.isFinite(v) ? v : null]);

/** A time-series panel: a line per series, the y axis in the panel's unit (log scale for latency over a spike). */
export function lineChart(series: ChartSeries[], frame: ChartFrame): DrawnChart {
  // Past three rows (a latency panel's quantile × kind), one scrolling row, as Grafana would cut a long legend.
  const rows = legendRows(
    series.map((s) => s.name),
    frame.width,
  );
  const scroll = rows > 3;
  const plotTop = belowLegend(scroll ? 1 : rows);
  const svg = render(
    {
      animation: false,
      textStyle: { fontFamily: 'sans-serif' },
      grid: { left: 70, right: 20, top: plotTop, bottom: 30 },
      legend: {
        type: scroll ? 'scroll' : 'plain',
        top: 4,
        left: 8,
        right: 8,
        itemGap: 8,
        textStyle: { fontSize: 11, color: AXIS_TEXT },
      },
      xAxis: timeAxis(frame),
      color: [...SERIES_COLORS],
      yAxis: {
        type: frame.logScale ? 'log' : 'value',
        // The data's own range, not from zero: Grafana's default, and what shows a record age's rise over hours.
        scale: true,
        axisLabel: { color: AXIS_TEXT, formatter: (v: number) => formatValue(frame.unit, v) },
        splitLine: { lineStyle: { color: '#e6e8ec' } },
      },
      series: series.map((s, i) => ({
        type: 'line',
        name: s.name,
        showSymbol: false,
        connectNulls: false,
        lineStyle: { width: 1.5 },
        data: finite(s.points),
        ...(i === 0 ? marks(frame) : {}),
      })),
    },
    frame,
  );
  return { svg, plotTop };
}

/**
 * A heatmap panel from a histogram's cumulative buckets (`sum by (le) (rate(..._bucket))`, Grafana's "heatmap"
 * format): each bucket's own rate (the cumulative difference), one row per bucket, one column per step.
 */
export function heatmapChart(buckets: { le: number; points: [number, number][] }[], frame: ChartFrame): DrawnChart {
  const rows = [...buckets].sort((a, b) => a.le - b.le);
  const times = [...new Set(rows.flatMap((r) => r.points.map(([t]) => t)))].sort((a, b) => a - b);
  const at = rows.map((r) => new Map(r.points));
  const cells: [number, number, number][] = [];
  for (const [x, t] of times.entries()) {
    let below = 0;
    for (const [y, values] of at.entries()) {
      const cumulative = values.get(t);
      if (cumulative === undefined || !Number.isFinite(cumulative)) continue;
      const own = cumulative - below;
      below = cumulative;
      if (own > 0) cells.push([x, y, own]);
    }
  }
  const peak = Math.max(0, ...cells.map(([, , v]) => v));
  const step = peak / HEATMAP_COLORS.length;
  const time = (t: number) => new Date(t).toTimeString().slice(0, 8);
  const plotTop = belowLegend(1); // the piecewise scale's one row
  const svg = render(
    {
      animation: false,
      textStyle: { fontFamily: 'sans-serif' },
      grid: { left: 70, right: 20, top: plotTop, bottom: 30 },
      xAxis: {
        type: 'category',
        data: times.map(time),
        axisLabel: { color: AXIS_TEXT, hideOverlap: true },
        splitArea: { show: false },
      },
      yAxis: {
        type: 'category',
        data: rows.map((r) => (Number.isFinite(r.le) ? `≤ ${formatValue(frame.unit, r.le)}` : '> last')),
        axisLabel: { color: AXIS_TEXT, fontSize: 10, hideOverlap: true },
      },
      visualMap: {
        type: 'piecewise',
        show: true,
        orient: 'horizontal',
        top: 4,
        right: 8,
        itemWidth: 10,
        itemHeight: 10,
        textStyle: { fontSize: 10, color: AXIS_TEXT },
        pieces: HEATMAP_COLORS.map((color, i) => ({
          min: i * step,
          max: (i + 1) * step,
          color,
          label: i === HEATMAP_COLORS.length - 1 ? `≤ ${formatValue('ops', peak)}` : ' ',
        })),
      },
      series: [{ type: 'heatmap', name: 'observations/s', data: cells, progressive: 0 }],
    },
    frame,
  );
  return { svg, plotTop };
}

/** A stat panel: the last value in large type over the series' sparkline, as Grafana's stat draws it. */
export function statChart(series: ChartSeries, frame: ChartFrame): DrawnChart {
  const last = [...series.points].reverse().find(([, v]) => Number.isFinite(v))?.[1] ?? Number.NaN;
  const plotTop = Math.round(frame.height * 0.6);
  const svg = render(
    {
      animation: false,
      textStyle: { fontFamily: 'sans-serif' },
      title: {
        text: formatValue(frame.unit, last),
        left: 'center',
        top: 'middle',
        textStyle: { fontSize: 40, fontWeight: 'bold', color: '#333' },
      },
      grid: { left: 0, right: 0, top: plotTop, bottom: 0 },
      xAxis: { type: 'time', min: frame.start, max: frame.end, show: false },
      yAxis: { type: 'value', show: false },
      series: [
        {
          type: 'line',
          name: series.name,
          showSymbol: false,
          color: SERIES_COLORS[0],
          areaStyle: { opacity: 0.25 },
          data: finite(series.points),
        },
      ],
    },
    frame,
  );
  return { svg, plotTop };
}
