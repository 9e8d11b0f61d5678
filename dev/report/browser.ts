import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { debianBinary } from '../stack/artifacts';
import { StackError } from '../stack/errors';
import { HEATMAP_COLORS, SERIES_COLORS } from './chart';

export interface SeenPanel {
  title: string;
  /** What the report says the panel holds (data-series, data-points). */
  series: number;
  points: number;
  /**
   * Shapes the browser laid out inside the plot (below data-plot-top: above it is the legend), in a series' or a
   * heatmap cell's colour, with a non-empty box.
   */
  drawnShapes: number;
}

export interface SeenReport {
  panels: SeenPanel[];
  /** Console errors and uncaught page errors. */
  errors: string[];
  /** Requests for anything but the report itself: a self-contained report makes none. */
  requests: string[];
}

/**
 * A report as a person sees it: opened in headless Chromium — `chromium`, else Debian's package, installed with apt
 * as the stack installs Prometheus — driven by playwright-core, which drives a browser it did not download.
 */
export async function openReport(
  file: string,
  options: { screenshot?: string; panel?: string; viewportWidth?: number; chromium?: string } = {},
): Promise<SeenReport> {
  const executablePath = options.chromium ?? (await debianBinary('chromium', 'chromium'));
  if (!existsSync(executablePath)) throw new StackError('STACK_TOOL_MISSING', `no Chromium at ${executablePath}`);
  // Root (as in CI) cannot use Chromium's sandbox: the page is the project's own file.
  const browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage({ viewport: { width: options.viewportWidth ?? 1280, height: 900 } });
    const errors: string[] = [];
    const requests: string[] = [];
    const url = pathToFileURL(file).href;
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('request', (r) => {
      if (r.url() !== url) requests.push(r.url());
    });
    await page.goto(url, { waitUntil: 'load' });
    const colors = [...SERIES_COLORS, ...HEATMAP_COLORS].map((c) => c.toLowerCase());
    const panels = await page.$$eval(
      'figure.panel',
      (figures, colors) =>
        figures.map((figure) => {
          const plotTop = Number(figure.getAttribute('data-plot-top'));
          // An SVG shape, as much of it as this check reads (the project compiles without the DOM's types).
          const shapes = [...figure.querySelectorAll('svg path, svg rect')] as unknown as {
            getAttribute(name: string): string | null;
            getBBox(): { y: number; width: number; height: number };
          }[];
          const drawn = shapes.filter((shape) => {
            const paint = [shape.getAttribute('stroke'), shape.getAttribute('fill')].map((c) => c?.toLowerCase());
            if (!paint.some((c) => c !== undefined && colors.includes(c))) return false;
            const box = shape.getBBox();
            return box.y >= plotTop - 1 && (box.width > 0 || box.height > 0);
          });
          return {
            title: figure.getAttribute('data-panel') ?? '',
            series: Number(figure.getAttribute('data-series')),
            points: Number(figure.getAttribute('data-points')),
            drawnShapes: drawn.length,
          };
        }),
      colors,
    );
    if (options.screenshot) {
      const target = options.panel
        ? page.locator('figure.panel', { has: page.locator('figcaption', { hasText: options.panel }) }).first()
        : page;
      await target.screenshot({ path: options.screenshot, ...(options.panel ? {} : { fullPage: true }) });
    }
    return { panels, errors, requests };
  } finally {
    await browser.close();
  }
}
