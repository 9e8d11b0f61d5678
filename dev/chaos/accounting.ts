import type { Message } from '@platformatic/kafka';
import type { ScyllaSession } from '../../lib/scylla/session';
import { writeTimestamp } from '../../lib/scylla/write-time';
import type { DeadLetterEntry } from '../../ops/dlq/store';
import type { DemoRecord } from '../demo/stream';
import { SEQ_HEADER } from './stream';

/** The counts the chaos run must end with at zero (`faults`, `retried_invocations`, `seconds` describe the run). */
export interface ChaosCounts {
  /** Expected rows (navigations_by_user, user_segments, identities) not stored. */
  lost: number;
  /** Rows stored that no record asked for, or with values other than the newest record's. */
  unexpected: number;
  /** Cookies whose identity is not their newest record's (an older write resurrected, an erasure undone). */
  stale_newest: number;
  /** Poison records (by topic/partition/offset, per function) without their dead letter. */
  dead_letters_missing: number;
  /** Dead letters of records that are not poison, for a poison reason (a bug in the decoder or a rule). */
  dead_letters_extra: number;
  /** Dead letters of records that are not poison, for a transient reason (an outage dead-lettered good data). */
  transient_dead_lettered: number;
}

export interface Accounting extends ChaosCounts {
  /** Events stored under more than one owner (see the note in `account`): reported, not an error. */
  reowned: number;
  /** Records the producer sent twice (a send retried after a broker failure): at-least-once, processed twice. */
  producedTwice: number;
  /** The same record dead-lettered more than once: impossible in the table (one row per offset); the queue and
   * topic sinks are at least once (a batch retried after its dead letters were sent sends them again). */
  deadLettersTwice: number;
  examples: string[];
}

const POISON_REASONS = /^(CODEC_|RECORD_INVALID|SCYLLA_STATEMENT_FAILED)/;

async function allRows(session: ScyllaSession, cql: string): Promise<{ get(name: string): unknown }[]> {
  const client = await session.connected();
  const rows: { get(name: string): unknown }[] = [];
  await new Promise<void>((resolve, reject) =>
    client.eachRow(
      cql,
      [],
      { prepare: true, autoPage: true, fetchSize: 5_000 },
      (_, row) => rows.push(row),
      (error) => (error ? reject(error) : resolve()),
    ),
  );
  return rows;
}

/**
 * Checks what the functions stored against the ledger (what was produced, in order) and the topics as the broker
 * holds them (offset → ledger index through the `chaos.seq` header). Expectations follow the functions' contracts:
 * - navigation-enricher: one row per event that is neither poison nor consent DENIED, with the event's values.
 *   Its owner is the user the cookie resolved to when it was processed: a batch retried after identity-linker
 *   linked the cookie stores the event under the user as well as under the cookie. That is the join's semantics
 *   (processing time), counted as `reowned`, not as loss or duplication of an event.
 * - segment-builder: per (user else cookie, segment) matched by the seeded rules, last_seen = the newest event.
 * - identity-linker: per cookie, the newest record wins (event time, then offset): its link, or nothing after an
 *   erasure, whatever order retries wrote them in.
 * - every function: exactly the poison offsets of its topic dead-lettered (`letters`, from its sink), nothing else.
 */
export async function account(
  ledger: readonly DemoRecord[],
  topics: { navigation: Message[]; identity: Message[] },
  session: ScyllaSession,
  rules: readonly { segment: string; pattern: RegExp }[],
  letters: readonly Pick<DeadLetterEntry, 'functionName' | 'topic' | 'partition' | 'offset' | 'reason'>[],
): Promise<Accounting> {
  const out: Accounting = {
    lost: 0,
    unexpected: 0,
    stale_newest: 0,
    dead_letters_missing: 0,
    dead_letters_extra: 0,
    transient_dead_lettered: 0,
    reowned: 0,
    producedTwice: 0,
    deadLettersTwice: 0,
    examples: [],
  };
  const example = (line: string) => {
    if (out.examples.length < 20) out.examples.push(line);
  };
  const seqOf = (m: Message) => {
    for (const [name, value] of m.headers) if (name.toString() === SEQ_HEADER) return Number(value.toString());
    throw new Error(`${m.topic}-${m.partition}@${m.offset} has no ${SEQ_HEADER} header`);
  };
  const seen = new Set<number>();
  const poisonOffsets = new Map<string, Set<string>>(); // topic → "partition/offset"
  const newest = new Map<string, { record: DemoRecord; ts: number }>(); // cookie → winning identity record
  for (const m of [...topics.navigation, ...topics.identity]) {
    const seq = seqOf(m);
    if (seen.has(seq)) out.producedTwice++;
    seen.add(seq);
    const record = ledger[seq] as DemoRecord;
    if (record.kind === 'poison') {
      const set = poisonOffsets.get(m.topic) ?? new Set();
      set.add(`${m.partition}/${m.offset}`);
      poisonOffsets.set(m.topic, set);
    }
    if (record.kind === 'identity' || record.kind === 'tombstone') {
      // The functions' write time: event time (a tombstone: its Kafka timestamp, here the event time) + offset.
      const ts = writeTimestamp(record.event.eventTime, Number(m.offset));
      const cookie = record.event.cookieId;
      if ((newest.get(cookie)?.ts ?? Number.NEGATIVE_INFINITY) < ts) newest.set(cookie, { record, ts });
    }
  }
  const missingSeq = ledger.length - seen.size;
  if (missingSeq > 0) {
    out.lost += missingSeq;
    example(`${missingSeq} produced records are not in their topic`);
  }

  // navigation-enricher
  const expectedEvents = new Map<string, DemoRecord>();
  const expectedSegments = new Map<string, number>(); // "owner\nsegment" → newest event time
  for (const record of ledger) {
    if (record.kind !== 'navigation' || record.event.consent === 'DENIED') continue;
    expectedEvents.set(record.event.eventId, record);
    const owner = record.event.userId ?? record.event.cookieId;
    for (const rule of rules) {
      if (!rule.pattern.test(record.event.url)) continue;
      const key = `${owner}\n${rule.segment}`;
      expectedSegments.set(key, Math.max(expectedSegments.get(key) ?? 0, record.event.eventTime));
    }
  }
  const owners = new Map<string, number>();
  for (const row of await allRows(
    session,
    'SELECT event_id, cookie_id, url, event_time, country FROM navigations_by_user',
  )) {
    const id = String(row.get('event_id'));
    owners.set(id, (owners.get(id) ?? 0) + 1);
    const record = expectedEvents.get(id);
    const e = record?.event;
    if (
      !e ||
      row.get('cookie_id') !== e.cookieId ||
      row.get('url') !== e.url ||
      (row.get('event_time') as Date).getTime() !== e.eventTime ||
      row.get('country') !== e.geo.country
    ) {
      out.unexpected++;
      example(`navigations_by_user: unexpected row ${id}`);
    }
  }
  for (const [id] of expectedEvents)
    if (!owners.has(id)) {
      out.lost++;
      example(`navigations_by_user: event ${id} missing`);
    }
  for (const count of owners.values()) if (count > 1) out.reowned++;

  // segment-builder
  const storedSegments = new Set<string>();
  for (const row of await allRows(session, 'SELECT owner_id, segment_id, last_seen FROM user_segments')) {
    const key = `${row.get('owner_id')}\n${row.get('segment_id')}`;
    storedSegments.add(key);
    const expected = expectedSegments.get(key);
    if (expected === undefined || (row.get('last_seen') as Date).getTime() !== expected) {
      out.unexpected++;
      example(
        `user_segments: ${key.replace('\n', '/')} last_seen ${(row.get('last_seen') as Date).toISOString()}, expected ${expected}`,
      );
    }
  }
  for (const key of expectedSegments.keys())
    if (!storedSegments.has(key)) {
      out.lost++;
      example(`user_segments: ${key.replace('\n', '/')} missing`);
    }

  // identity-linker
  const identities = new Map<string, { user: string; time: number }>();
  for (const row of await allRows(session, 'SELECT cookie_id, user_id, event_time FROM identities'))
    identities.set(String(row.get('cookie_id')), {
      user: String(row.get('user_id')),
      time: (row.get('event_time') as Date).getTime(),
    });
  for (const [cookie, { record }] of newest) {
    const stored = identities.get(cookie);
    identities.delete(cookie);
    if (record.kind === 'tombstone') {
      if (stored) {
        out.stale_newest++;
        example(`identities: ${cookie} erased last, but holds ${stored.user}`);
      }
      continue;
    }
    if (!stored) {
      out.lost++;
      example(`identities: ${cookie} missing`);
    } else if (stored.user !== record.identity?.userId || stored.time !== record.event.eventTime) {
      out.stale_newest++;
      example(
        `identities: ${cookie} holds ${stored.user}@${stored.time}, newest is ${record.identity?.userId}@${record.event.eventTime}`,
      );
    }
  }
  out.unexpected += identities.size; // cookies only poison named

  // dead letters, per function
  const consumers: Record<string, string> = {
    'navigation-enricher': topics.navigation[0]?.topic ?? '',
    'segment-builder': topics.navigation[0]?.topic ?? '',
    'identity-linker': topics.identity[0]?.topic ?? '',
  };
  const lettered = new Map<string, Set<string>>();
  for (const letter of letters) {
    const at = `${letter.partition}/${letter.offset}`;
    const set = lettered.get(letter.functionName) ?? new Set();
    if (set.has(`${letter.topic}/${at}`)) out.deadLettersTwice++;
    set.add(`${letter.topic}/${at}`);
    lettered.set(letter.functionName, set);
    if (poisonOffsets.get(letter.topic)?.has(at)) continue;
    if (POISON_REASONS.test(letter.reason)) out.dead_letters_extra++;
    else out.transient_dead_lettered++;
    example(`dead letter of a good record: ${letter.functionName} ${letter.topic}/${at} ${letter.reason}`);
  }
  for (const [fn, topic] of Object.entries(consumers)) {
    for (const at of poisonOffsets.get(topic) ?? []) {
      if (lettered.get(fn)?.has(`${topic}/${at}`)) continue;
      out.dead_letters_missing++;
      example(`${fn}: poison ${topic}/${at} not dead-lettered`);
    }
  }
  return out;
}
