/** One instant PromQL query against a Prometheus HTTP API: the result's series (none when it has no data). */
export async function promql(
  url: string,
  expr: string,
): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const response = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`);
  return (
    ((await response.json()) as { data?: { result: { metric: Record<string, string>; value: [number, string] }[] } })
      .data?.result ?? []
  );
}

export interface RangeSeries {
  metric: Record<string, string>;
  /** [unix seconds, value]; Prometheus writes values as strings ("NaN" and "+Inf" among them). */
  values: [number, string][];
}

/**
 * One range PromQL query (`/api/v1/query_range`), as a dashboard panel sends it. Unlike `promql`, a query Prometheus
 * refuses throws with Prometheus's own error: a report must not draw a broken query as an empty panel.
 */
export async function promqlRange(
  url: string,
  expr: string,
  range: { start: number; end: number; stepSeconds: number },
): Promise<RangeSeries[]> {
  const query = new URLSearchParams({
    query: expr,
    start: (range.start / 1000).toFixed(3),
    end: (range.end / 1000).toFixed(3),
    step: `${range.stepSeconds}s`,
  });
  const response = await fetch(`${url}/api/v1/query_range?${query}`);
  const body = (await response.json()) as { status: string; error?: string; data?: { result: RangeSeries[] } };
  if (body.status !== 'success') throw new Error(`Prometheus refused ${expr}: ${body.error ?? response.status}`);
  return body.data?.result ?? [];
}
