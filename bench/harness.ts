import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Timing for the `npm run bench:*` programs: warm up, repeat, report the median (robust to a noisy neighbour). */

export interface Measurement {
  name: string;
  /** Median wall time of one run. */
  medianMs: number;
  runs: number;
}

export async function measure(
  name: string,
  run: () => unknown,
  options: { warmup: number; runs: number },
): Promise<Measurement> {
  for (let i = 0; i < options.warmup; i++) await run();
  const times: number[] = [];
  for (let i = 0; i < options.runs; i++) {
    const start = process.hrtime.bigint();
    await run();
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return { name, medianMs: quantile(times, 0.5), runs: options.runs };
}

/** The value at quantile `q` of `values` (0.5: the median), by nearest rank; 0 for none. */
export function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

/** Prints rows as an aligned table. */
export function printTable(header: string[], rows: (string | number)[][]): void {
  const cells = [header, ...rows.map((row) => row.map(String))];
  const widths = header.map((_, col) => Math.max(...cells.map((row) => (row[col] ?? '').length)));
  for (const [i, row] of cells.entries()) {
    console.log(
      row.map((cell, col) => (col === 0 ? cell.padEnd(widths[col] ?? 0) : cell.padStart(widths[col] ?? 0))).join('  '),
    );
    if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
}

const CONTENDER = 'BENCH_CONTENDER';
const OUTPUT = 'BENCH_OUTPUT';

/**
 * Measures each contender in a process of its own (a fresh heap and JIT: in one process, whichever ran first shapes
 * the GC's and the JIT's state for the others). The bench file runs itself once per contender; in the child, this
 * measures the one contender named in the environment and exits. The child's stdout is dropped (EMF lines,
 * progress), its stderr shown.
 */
export async function measureIsolated(
  contenders: [string, () => unknown, { warmup: number; runs: number }][],
): Promise<Measurement[]> {
  const only = process.env[CONTENDER];
  if (only !== undefined) {
    const found = contenders.find(([name]) => name === only);
    if (!found) throw new Error(`no contender ${only}`);
    const [name, run, options] = found;
    writeFileSync(process.env[OUTPUT] as string, JSON.stringify(await measure(name, run, options)));
    process.exit(0);
  }
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'bench-'));
  const results: Measurement[] = [];
  for (const [index, [name]] of contenders.entries()) {
    const out = path.join(scratch, `${index}.json`);
    execFileSync(process.execPath, [...process.execArgv, process.argv[1] as string], {
      env: { ...process.env, [CONTENDER]: name, [OUTPUT]: out },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    results.push(JSON.parse(readFileSync(out, 'utf8')) as Measurement);
  }
  return results;
}
