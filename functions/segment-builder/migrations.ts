import type { Migration } from '../../lib/runtime';

/** segment-builder's tables (`npm run migrate` applies them; versions are this function's own). */
export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'segment rules and user segments',
    statements: [
      // The rules it matches URLs against, and what it derives.
      `CREATE TABLE IF NOT EXISTS {ks}.segment_rules (
         segment_id text PRIMARY KEY, url_pattern text, enabled boolean, updated_at timestamp)`,
      `CREATE TABLE IF NOT EXISTS {ks}.user_segments (
         owner_id text, segment_id text, last_seen timestamp, PRIMARY KEY ((owner_id), segment_id))
       WITH default_time_to_live = 2592000`,
    ],
  },
];
