import type avro from 'avsc';
import {
  type Env,
  integer,
  type ProcessorDefinition,
  requireEventTime,
  statement,
  type WriteExecutor,
  writeTimestamp,
} from '../../lib/runtime';
import { CONSENT, type Consent } from '../topics/navigation';

/**
 * segment-builder (topic `navigation`, its own consumer group): matches each event's URL against the segment
 * rules kept in `segment_rules` (loaded on first use, refreshed every `refreshMs`, kept across warm invocations)
 * and upserts `user_segments` (user, else cookie; segment; last seen) with a TTL. Reads five fields of the
 * navigation record: the rest is skipped by the decoder, not decoded.
 */
export const READER_SCHEMA: avro.Schema = {
  type: 'record',
  name: 'Navigation',
  namespace: 'com.example.events',
  fields: [
    { name: 'eventTime', type: 'long' },
    { name: 'cookieId', type: 'string' },
    { name: 'userId', type: ['null', 'string'], default: null },
    { name: 'url', type: 'string' },
    {
      name: 'consent',
      type: CONSENT,
    },
  ],
} as avro.Schema;

export interface SegmentView {
  eventTime: number;
  cookieId: string;
  userId: string | null;
  url: string;
  consent: Consent;
}

interface Rule {
  segmentId: string;
  pattern: RegExp;
}

const RULES = statement('segment_rules.select', 'SELECT segment_id, url_pattern, enabled FROM segment_rules', {
  idempotent: true,
});
const UPSERT = statement(
  'user_segments.upsert',
  'INSERT INTO user_segments (owner_id, segment_id, last_seen) VALUES (?, ?, ?) USING TTL ?',
  { idempotent: true },
);

export function segmentBuilder(options: {
  ttlSeconds: number;
  refreshMs: number;
  log?: (line: string) => void;
}): ProcessorDefinition<SegmentView, Rule[]> {
  // Module-scope state through the closure: the rules survive warm invocations.
  let rules: Rule[] = [];
  let loadedAt = Number.NEGATIVE_INFINITY;
  // The load in progress: partitions' batches that find the rules stale together share one read of the table.
  let loading: Promise<Rule[]> | undefined;
  const log = options.log ?? ((line: string) => console.warn(line));

  async function load(executor: WriteExecutor): Promise<Rule[]> {
    const rows = (await executor.execute(RULES, [])).rows;
    const next: Rule[] = [];
    for (const row of rows) {
      if (row.get('enabled') === false) continue;
      const segmentId = row.get('segment_id') as string;
      try {
        next.push({ segmentId, pattern: new RegExp(row.get('url_pattern') as string) });
      } catch (error) {
        log(
          JSON.stringify({
            level: 'WARN',
            message: 'segment rule skipped: bad pattern',
            segmentId,
            error: (error as Error).message,
          }),
        );
      }
    }
    return next;
  }

  return {
    name: 'segment-builder',
    async prepare(_values, { executor }) {
      if (Date.now() - loadedAt < options.refreshMs) return rules;
      loading ??= load(executor)
        .then((next) => {
          rules = next;
          loadedAt = Date.now();
          return next;
        })
        .finally(() => {
          loading = undefined;
        });
      return loading;
    },
    process(nav, record, current) {
      if (nav.consent === 'DENIED') return { skip: 'consent_denied' };
      requireEventTime(nav.eventTime);
      const owner = nav.userId ?? nav.cookieId;
      const matched = current.filter((rule) => rule.pattern.test(nav.url));
      if (matched.length === 0) return { skip: 'no_segment' };
      return matched.map((rule) => ({
        statement: UPSERT,
        params: [owner, rule.segmentId, new Date(nav.eventTime), options.ttlSeconds],
        orderKey: `${owner}/${rule.segmentId}`,
        timestamp: writeTimestamp(nav.eventTime, record.offset),
      }));
    },
  };
}

/** The definition as its handler builds it: settings from the environment (read once, at cold start), else defaults. */
export function fromEnvironment(env: Env): ProcessorDefinition<SegmentView, Rule[]> {
  return segmentBuilder({
    ttlSeconds: integer(env, 'SEGMENT_TTL_SECONDS', 30 * 86_400, { min: 0, max: 630_720_000 }),
    refreshMs: integer(env, 'SEGMENT_RULES_REFRESH_MS', 60_000, { min: 1_000, max: 86_400_000 }),
  });
}
