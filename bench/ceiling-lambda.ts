import cassandra from 'cassandra-driver';
import {
  INSERT,
  LOOKUP,
  type NavigationView,
  navigationRow,
  READER_SCHEMA,
} from '../functions/navigation-enricher/definition';
import { AvroReader, CodecError, ConfluentSchemaRegistry, SchemaCache, TOMBSTONE } from '../lib/codec';
import type { MskEvent } from '../lib/runtime/msk-event';
import { plainClient } from './plain-client';

/**
 * The ceiling of `npm run bench:partition`, as a Lambda function module: navigation-enricher's CQL (a SELECT per
 * distinct anonymous cookie of the batch, then an INSERT per stored event, the same rows and TTL) sent straight with
 * cassandra-driver's `executeConcurrent` at the function's in-flight bound, after the same codec's decode. No
 * runtime around it: no bounded executor, per-key order, metrics, dead letters or partial responses. What one
 * sandbox can get through the driver; plain settings from its environment (a bench, not a function).
 */
const env = process.env;
const client = plainClient(env);
const reader = new AvroReader<NavigationView>(
  new SchemaCache(new ConfluentSchemaRegistry({ urls: (env.SCHEMA_REGISTRY_URLS ?? '').split(',') })),
  READER_SCHEMA,
);
const concurrencyLevel = Number(env.SCYLLA_MAX_IN_FLIGHT ?? 128);
const ttlSeconds = Number(env.NAVIGATION_TTL_SECONDS ?? 90 * 86_400);

export async function handler(event: MskEvent) {
  for (const records of Object.values(event.records)) {
    const stored: NavigationView[] = [];
    for (const d of await reader.decodeAll(records))
      if (d !== TOMBSTONE && !(d instanceof CodecError) && d.consent !== 'DENIED') stored.push(d);
    const cookies = [...new Set(stored.filter((n) => n.userId === null).map((n) => n.cookieId))];
    const found = await cassandra.concurrent.executeConcurrent(
      client,
      LOOKUP.cql,
      cookies.map((c) => [c]),
      {
        concurrencyLevel,
        collectResults: true,
      },
    );
    const users = new Map<string, string | null>();
    for (const [i, result] of (found.resultItems as cassandra.types.ResultSet[]).entries())
      users.set(cookies[i] as string, (result.first()?.get('user_id') as string | null | undefined) ?? null);
    await cassandra.concurrent.executeConcurrent(
      client,
      INSERT.cql,
      stored.map((n) => navigationRow(n, n.userId ?? users.get(n.cookieId) ?? null, ttlSeconds)),
      { concurrencyLevel },
    );
  }
  return { batchItemFailures: [] };
}
