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
