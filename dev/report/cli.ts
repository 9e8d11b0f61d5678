import path from 'node:path';
import { parseArgs } from 'node:util';
import { openReport } from './browser';

/**
 * `npm run report -- <report.html> [--screenshot <file.png>] [--panel <title>]`: opens a run report in headless
 * Chromium (CHROMIUM_PATH, else Debian's), says what each panel drew, and saves a screenshot of the page (or of one
 * panel). The README's pictures are made with it.
 */
const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { screenshot: { type: 'string' }, panel: { type: 'string' } },
});
const file = positionals[0];
if (!file) {
  console.error('usage: npm run report -- <report.html> [--screenshot <file.png>] [--panel <title>]');
  process.exit(2);
}
const seen = await openReport(path.resolve(file), {
  screenshot: values.screenshot && path.resolve(values.screenshot),
  panel: values.panel,
  chromium: process.env.CHROMIUM_PATH,
});
for (const p of seen.panels)
  console.log(`${p.drawnShapes > 0 ? 'drawn  ' : 'EMPTY  '} ${p.title}: ${p.series} series, ${p.points} points`);
if (seen.errors.length) console.log(`console errors: ${seen.errors.join(' | ')}`);
if (seen.requests.length) console.log(`requests beyond the file: ${seen.requests.join(' ')}`);
if (values.screenshot) console.log(`screenshot: ${path.resolve(values.screenshot)}`);
process.exit(seen.errors.length || seen.requests.length ? 1 : 0);
