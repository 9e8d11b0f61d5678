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
  times.sort((a, b) => a - b);
  return { name, medianMs: times[Math.floor(times.length / 2)] as number, runs: options.runs };
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
