import { endpoints } from '../endpoints';

export interface QueryResult {
  status: string;
  error?: string;
  data?: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };
}

/** An instant query against the local stack's Prometheus HTTP API. */
export async function query(expr: string): Promise<QueryResult> {
  const response = await fetch(`${endpoints.prometheusUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
  return (await response.json()) as QueryResult;
}

export const remoteWriteUrl = `${endpoints.prometheusUrl}/api/v1/write`;
