import { vi } from 'vitest';

/** One metric as CloudWatch will know it: namespace, name and its exact set of dimensions. */
export interface EmittedMetric {
  namespace: string;
  name: string;
  dimensions: Record<string, string>;
}

/**
 * Hedges need a second replica to go to, so on the stack's one node no function sends any: the hedging test
 * (test/integration/scylla/hedging.test.ts) runs navigation-enricher on a 3-node cluster and checks that these are
 * emitted with exactly a function's own dimensions (service and function).
 */
export const CLUSTER_ONLY_METRICS = ['speculative_executions', 'speculative_wins'];

/** Runs `run` with stdout captured and returns every metric its EMF documents declare. */
export async function captureEmf(run: () => Promise<unknown>): Promise<EmittedMetric[]> {
  const chunks: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: unknown) => {
    chunks.push(String(chunk));
    return true;
  });
  try {
    await run();
  } finally {
    vi.restoreAllMocks();
  }
  const emitted: EmittedMetric[] = [];
  const lines = chunks
    .join('')
    .split('\n')
    .filter((line) => line.startsWith('{') && line.includes('"_aws"'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  for (const line of lines) {
    const aws = line._aws as {
      CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[];
    };
    for (const directive of aws.CloudWatchMetrics)
      for (const set of directive.Dimensions)
        for (const metric of directive.Metrics)
          emitted.push({
            namespace: directive.Namespace,
            name: metric.Name,
            dimensions: Object.fromEntries(set.map((d) => [d, String(line[d])])),
          });
  }
  return emitted;
}
