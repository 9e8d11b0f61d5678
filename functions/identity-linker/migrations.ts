import type { Migration } from '../../lib/runtime';

/** identity-linker's tables (`npm run migrate` applies them; versions are this function's own). */
export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'identities',
    statements: [
      // Who a cookie is. Written with the event time as write time.
      `CREATE TABLE IF NOT EXISTS {ks}.identities (
         cookie_id text PRIMARY KEY, user_id text, email_sha256 text, source text, consent text, event_time timestamp)`,
    ],
  },
];
