import type avro from 'avsc';

/**
 * The `navigation` topic's value, as producers write it (docs/domain: a web navigation event). Producers add
 * optional fields over time; every version stays readable through a processor's reader schema.
 */

const geo = {
  type: 'record',
  name: 'Geo',
  fields: [
    { name: 'country', type: 'string' },
    { name: 'city', type: ['null', 'string'], default: null },
    { name: 'lat', type: 'double' },
    { name: 'lon', type: 'double' },
  ],
};

/** Consent, shared by both topics and every reader: one named type, so readers and writers agree on it. */
export const CONSENT = { type: 'enum', name: 'Consent', symbols: ['GRANTED', 'DENIED', 'UNKNOWN'], default: 'UNKNOWN' };

const v1Fields = [
  { name: 'eventId', type: { type: 'string', logicalType: 'uuid' } },
  { name: 'eventTime', type: { type: 'long', logicalType: 'timestamp-millis' } },
  { name: 'cookieId', type: 'string' },
  { name: 'userId', type: ['null', 'string'], default: null },
  { name: 'url', type: 'string' },
  { name: 'referrer', type: ['null', 'string'], default: null },
  { name: 'userAgent', type: 'string' },
  { name: 'ip', type: 'string' },
  { name: 'geo', type: geo },
  { name: 'tags', type: { type: 'array', items: 'string' } },
  { name: 'attributes', type: { type: 'map', values: 'string' } },
  { name: 'consent', type: CONSENT },
];

const record = (fields: unknown[]): avro.Schema =>
  ({ type: 'record', name: 'Navigation', namespace: 'com.example.events', fields }) as avro.Schema;

export const NAVIGATION_V1 = record(v1Fields);
/** v2 adds the session. */
export const NAVIGATION_V2 = record([...v1Fields, { name: 'sessionId', type: ['null', 'string'], default: null }]);
/** v3 adds the page title and the time the page took to load. */
export const NAVIGATION_V3 = record([
  ...v1Fields,
  { name: 'sessionId', type: ['null', 'string'], default: null },
  { name: 'pageTitle', type: ['null', 'string'], default: null },
  { name: 'loadMillis', type: ['null', 'int'], default: null },
]);

export type Consent = 'GRANTED' | 'DENIED' | 'UNKNOWN';

export interface Navigation {
  eventId: string;
  /** Epoch milliseconds. */
  eventTime: number;
  cookieId: string;
  userId: string | null;
  url: string;
  referrer: string | null;
  userAgent: string;
  ip: string;
  geo: { country: string; city: string | null; lat: number; lon: number };
  tags: string[];
  attributes: Record<string, string>;
  consent: Consent;
  sessionId?: string | null;
  pageTitle?: string | null;
  loadMillis?: number | null;
}
