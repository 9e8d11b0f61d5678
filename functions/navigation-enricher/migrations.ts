import type { Migration } from '../../lib/runtime';

/** navigation-enricher's tables (`npm run migrate` applies them; versions are this function's own). */
export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'navigations by user',
    statements: [
      // A visitor's navigation, newest first, by user when known, else by cookie.
      `CREATE TABLE IF NOT EXISTS {ks}.navigations_by_user (
         owner_id text, event_time timestamp, event_id uuid, cookie_id text, user_id text, url text, referrer text,
         user_agent text, ip text, country text, city text, tags list<text>, attributes map<text, text>, consent text,
         PRIMARY KEY ((owner_id), event_time, event_id))
       WITH CLUSTERING ORDER BY (event_time DESC, event_id ASC) AND default_time_to_live = 7776000`,
    ],
  },
];
