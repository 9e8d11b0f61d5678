import type avro from 'avsc';
import {
  type Env,
  integer,
  type ProcessorDefinition,
  requireEventTime,
  statement,
  ValidationError,
  writeTimestamp,
} from '../../lib/runtime';
import { CONSENT, type Navigation } from '../topics/navigation';

/**
 * navigation-enricher (topic `navigation`): resolves the cookie to a user (one SELECT per distinct cookie of the
 * batch), then stores the event in `navigations_by_user`, partitioned by user when known, else by cookie, newest
 * first, with a TTL. Events without consent are not stored (counted as skipped).
 */
export const READER_SCHEMA: avro.Schema = {
  type: 'record',
  name: 'Navigation',
  namespace: 'com.example.events',
  fields: [
    { name: 'eventId', type: 'string' },
    { name: 'eventTime', type: 'long' },
    { name: 'cookieId', type: 'string' },
    { name: 'userId', type: ['null', 'string'], default: null },
    { name: 'url', type: 'string' },
    { name: 'referrer', type: ['null', 'string'], default: null },
    { name: 'userAgent', type: 'string' },
    { name: 'ip', type: 'string' },
    {
      name: 'geo',
      type: {
        type: 'record',
        name: 'Geo',
        fields: [
          { name: 'country', type: 'string' },
          { name: 'city', type: ['null', 'string'], default: null },
        ],
      },
    },
    { name: 'tags', type: { type: 'array', items: 'string' }, default: [] },
    { name: 'attributes', type: { type: 'map', values: 'string' }, default: {} },
    {
      name: 'consent',
      type: CONSENT,
    },
  ],
} as avro.Schema;

export type NavigationView = Pick<
  Navigation,
  | 'eventId'
  | 'eventTime'
  | 'cookieId'
  | 'userId'
  | 'url'
  | 'referrer'
  | 'userAgent'
  | 'ip'
  | 'tags'
  | 'attributes'
  | 'consent'
> & { geo: { country: string; city: string | null } };

/** The row navigation-enricher writes for an event (also what the benches write, so they measure the same work). */
export function navigationRow(nav: NavigationView, userId: string | null, ttlSeconds: number): unknown[] {
  return [
    userId ?? nav.cookieId,
    new Date(nav.eventTime),
    nav.eventId,
    nav.cookieId,
    userId,
    nav.url,
    nav.referrer,
    nav.userAgent,
    nav.ip,
    nav.geo.country,
    nav.geo.city,
    nav.tags,
    nav.attributes,
    nav.consent,
    ttlSeconds,
  ];
}

export const LOOKUP = statement('identities.select', 'SELECT user_id FROM identities WHERE cookie_id = ?', {
  idempotent: true,
});
export const INSERT = statement(
  'navigations.insert',
  `INSERT INTO navigations_by_user (owner_id, event_time, event_id, cookie_id, user_id, url, referrer, user_agent, ip,
     country, city, tags, attributes, consent) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) USING TTL ?`,
  { idempotent: true },
);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function navigationEnricher(options: {
  ttlSeconds: number;
}): ProcessorDefinition<NavigationView, Map<string, Promise<string | null>>> {
  return {
    name: 'navigation-enricher',
    async prepare(values, { executor }) {
      // A cookie repeats within a batch: ask once per distinct anonymous cookie, all at once through the executor,
      // and do not wait: each insert waits for its own cookie's answer while the others already run.
      const lookups = new Map<string, Promise<string | null>>();
      for (const { value } of values) {
        if (value.userId !== null || value.consent === 'DENIED' || lookups.has(value.cookieId)) continue;
        const lookup = executor
          .execute(LOOKUP, [value.cookieId])
          .then((rows) => (rows.first()?.get('user_id') as string | null | undefined) ?? null);
        // Its inserts see the failure; a lookup whose only record turned out invalid must not crash the process.
        lookup.catch(() => {});
        lookups.set(value.cookieId, lookup);
      }
      return lookups;
    },
    process(nav, record, lookups) {
      if (nav.consent === 'DENIED') return { skip: 'consent_denied' };
      if (!UUID.test(nav.eventId)) throw new ValidationError(`eventId ${JSON.stringify(nav.eventId)} is not a UUID`);
      requireEventTime(nav.eventTime);
      const lookup = nav.userId === null ? lookups.get(nav.cookieId) : undefined;
      return [
        {
          statement: INSERT,
          params: lookup
            ? lookup.then((userId) => navigationRow(nav, userId, options.ttlSeconds))
            : navigationRow(nav, nav.userId, options.ttlSeconds),
          // A cookie's events in offset order (each event is its own row: the order matters for replays only).
          orderKey: nav.cookieId,
          timestamp: writeTimestamp(nav.eventTime, record.offset),
        },
      ];
    },
  };
}

/** The definition as its handler builds it: settings from the environment (read once, at cold start), else defaults. */
export function fromEnvironment(env: Env): ProcessorDefinition<NavigationView, Map<string, Promise<string | null>>> {
  return navigationEnricher({
    ttlSeconds: integer(env, 'NAVIGATION_TTL_SECONDS', 90 * 86_400, { min: 0, max: 630_720_000 }),
  });
}
