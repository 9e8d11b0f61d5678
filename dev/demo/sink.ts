/**
 * The demo's table sink (`npm start`): the identity topic written to a table by its mapping alone, no code, as a
 * team would declare it under `sinks` in an environment file. Its table is the demo's to create (a sink writes to
 * tables that exist; `npm start` creates this one).
 */
export const DEMO_SINK = {
  name: 'identity-sink',
  /** A demo topic (dev/demo/stream.ts). */
  topic: 'identity',
  table: `CREATE TABLE IF NOT EXISTS {ks}.identity_links (
    cookie_id text PRIMARY KEY, user_id text, source text, consent text, linked_at timestamp, kafka_offset bigint)`,
  mapping: {
    table: 'identity_links',
    columns: {
      cookie_id: 'key',
      user_id: 'value.userId',
      source: 'value.source',
      consent: 'value.consent',
      linked_at: 'value.eventTime',
      kafka_offset: 'kafka.offset',
    },
    writeTime: 'value.eventTime',
  },
} as const;
