import { setTimeout as sleep } from 'node:timers/promises';
import { Admin, Producer } from '@platformatic/kafka';
import { IDENTITY_LINK_V1, type IdentityLink } from '../../functions/topics/identity';
import { NAVIGATION_V1, NAVIGATION_V2, NAVIGATION_V3, type Navigation } from '../../functions/topics/navigation';
import { AvroEncoder, type ConfluentSchemaRegistry, frameConfluentV0, type SubjectEncoder } from '../../lib/codec';
import { navigationEvents } from './navigation-generator';
import { SeededRandom } from './seeded-random';

/**
 * The demo stream `npm start` and `npm run bench:e2e` produce into the real Kafka: navigation events written by
 * three successive schema versions (producers upgrade over time), identity links for part of the cookies with a few
 * privacy erasures (tombstones), and about 0.5 % poison records of the kinds production sees.
 */
export interface StreamPlan {
  navigation: number;
  identity: number;
  poisonRate: number;
  seed: number;
  topics: { navigation: string; identity: string };
  partitions: number;
}

export interface ProducedStream {
  /** Per "<topic>-<partition>": one past the last offset produced (what a consumer must reach). */
  ends: Map<string, number>;
  counts: { navigation: number; identity: number; poison: number; tombstones: number };
  started: number;
  finished: number;
}

export async function ensureTopics(bootstrapBrokers: string[], topics: string[], partitions: number): Promise<void> {
  const admin = new Admin({ clientId: 'demo-admin', bootstrapBrokers });
  try {
    const existing = new Set(await admin.listTopics());
    const missing = topics.filter((t) => !existing.has(t));
    if (missing.length > 0) await admin.createTopics({ topics: missing, partitions, replicas: 1 });
  } finally {
    await admin.close();
  }
}

/**
 * Each partition's end (the high watermark: one past its last offset), from the broker. Not from the producer's
 * send results: those name the first offset of each appended batch, not the last.
 */
export async function topicEnds(
  bootstrapBrokers: string[],
  topics: string[],
  partitions: number,
): Promise<Map<string, number>> {
  const admin = new Admin({ clientId: 'demo-admin', bootstrapBrokers });
  try {
    const listed = await admin.listOffsets({
      topics: topics.map((name) => ({
        name,
        partitions: Array.from({ length: partitions }, (_, partitionIndex) => ({ partitionIndex, timestamp: -1n })),
      })),
    });
    const ends = new Map<string, number>();
    for (const topic of listed)
      for (const p of topic.partitions) ends.set(`${topic.name}-${p.partitionIndex}`, Number(p.offset));
    return ends;
  } finally {
    await admin.close();
  }
}

/** Poison as production meets it: cut records, a wrong magic byte, an unknown schema id. */
export function poison(random: SeededRandom, good: Buffer): Buffer {
  switch (random.int(3)) {
    case 0:
      return good.subarray(0, Math.max(6, good.length >> 1));
    case 1:
      return Buffer.concat([Buffer.from([0x07]), good.subarray(1)]);
    default:
      return frameConfluentV0(2_000_000_000, good.subarray(5));
  }
}

/** Registers the demo's writer schemas under its topics' subjects: Navigation v1–v3, IdentityLink v1. */
export async function registerDemoSchemas(encoder: AvroEncoder, topics: { navigation: string; identity: string }) {
  return {
    navigation: await Promise.all(
      [NAVIGATION_V1, NAVIGATION_V2, NAVIGATION_V3].map((schema) =>
        encoder.forSubject<Navigation>(`${topics.navigation}-value`, schema),
      ),
    ),
    identity: await encoder.forSubject<IdentityLink>(`${topics.identity}-value`, IDENTITY_LINK_V1),
  };
}

/** The segment rules `npm start` seeds: segment id → the URL pattern segment-builder matches. */
export const DEMO_SEGMENT_RULES: readonly [string, string][] = [
  ['runners', '/shoes/running'],
  ['shoppers', '/(cart|checkout)'],
  ['readers', '/blog/'],
  ['campaign-google', 'utm_source=google'],
];

/** The demo's topics (`npm start`): what the functions consume locally and `npm run schemas:check` checks. */
export const DEMO_TOPICS = { navigation: 'navigation', identity: 'identity' } as const;

/**
 * What a run named a function's topic (functions/catalog.ts names the demo's), or undefined when the demo stream does
 * not produce it: such a function is left out of the run, never handed another topic.
 */
export function demoTopic(topics: { navigation: string; identity: string }, topic: string): string | undefined {
  if (topic === DEMO_TOPICS.navigation) return topics.navigation;
  if (topic === DEMO_TOPICS.identity) return topics.identity;
  return undefined;
}

/** One record of the demo stream, with what it stands for (the ground truth a run is checked against). */
export interface DemoRecord {
  topic: string;
  key: Buffer;
  /** Undefined for a tombstone. */
  value?: Buffer;
  kind: 'navigation' | 'identity' | 'tombstone' | 'poison';
  /** The event behind it (a poison record's is what its bytes were before they were broken). */
  event: Navigation;
  /** The identity link it carries (kind `identity`, or a broken one's). */
  identity?: IdentityLink;
}

export type NavigationWriter = SubjectEncoder<Navigation>;

/**
 * The demo stream's records in order: navigation events written by `navigationWriter` (by default the three
 * versions in turn: producers upgrade over the stream), identity links for part of the cookies with a few
 * erasures (tombstones), and `plan.poisonRate` of the values broken the ways production breaks them.
 */
export function* demoRecords(
  plan: Pick<StreamPlan, 'navigation' | 'identity' | 'poisonRate' | 'seed' | 'topics'> & { startTime: number },
  writers: {
    navigation: NavigationWriter[];
    identity: SubjectEncoder<IdentityLink>;
    navigationWriter?: (count: number) => NavigationWriter;
  },
): Generator<DemoRecord> {
  const random = new SeededRandom(plan.seed);
  const generator = navigationEvents({
    seed: plan.seed,
    cookies: Math.max(100, plan.navigation / 20),
    startTime: plan.startTime,
  });
  const total = plan.navigation + plan.identity;
  const counts = { navigation: 0, identity: 0 };
  const byThirds = (count: number) =>
    writers.navigation[Math.min(2, Math.floor((3 * count) / Math.max(1, plan.navigation)))] as NavigationWriter;
  const pickWriter = writers.navigationWriter ?? byThirds;
  for (let i = 0; i < total; i++) {
    const n = generator.next().value as Navigation;
    const isIdentity = i % Math.ceil(total / Math.max(1, plan.identity)) === 0 && counts.identity < plan.identity;
    const key = Buffer.from(n.cookieId);
    let record: DemoRecord;
    if (isIdentity) {
      counts.identity++;
      if (random.next() < 0.02) {
        yield { topic: plan.topics.identity, key, kind: 'tombstone', event: n }; // erase
        continue;
      }
      const identity: IdentityLink = {
        cookieId: n.cookieId,
        userId: `user-${n.cookieId.slice(3)}`,
        emailSha256: null,
        source: random.pick(['LOGIN', 'CRM', 'PARTNER'] as const),
        consent: n.consent,
        eventTime: n.eventTime,
      };
      record = {
        topic: plan.topics.identity,
        key,
        value: writers.identity.encode(identity),
        kind: 'identity',
        event: n,
        identity,
      };
    } else {
      counts.navigation++;
      const value = pickWriter(counts.navigation).encode({
        ...n,
        sessionId: `s-${n.cookieId}`,
        pageTitle: 'Shop',
        loadMillis: 120 + random.int(400),
      });
      record = { topic: plan.topics.navigation, key, value, kind: 'navigation', event: n };
    }
    if (random.next() < plan.poisonRate)
      record = { ...record, kind: 'poison', value: poison(random, record.value as Buffer) };
    yield record;
  }
}

export async function produceDemoStream(
  plan: StreamPlan,
  deps: {
    bootstrapBrokers: string[];
    registry: ConfluentSchemaRegistry;
    onProgress?: (sent: number, total: number) => void;
    /** Produce at this steady rate (records/s, in sends of 50 ms worth) instead of as fast as the broker takes them. */
    recordsPerSecond?: number;
  },
): Promise<ProducedStream> {
  await ensureTopics(deps.bootstrapBrokers, [plan.topics.navigation, plan.topics.identity], plan.partitions);
  const writers = await registerDemoSchemas(new AvroEncoder(deps.registry), plan.topics);
  const started = Date.now();
  const producer = new Producer({
    clientId: 'demo-producer',
    bootstrapBrokers: deps.bootstrapBrokers,
    idempotent: true,
  });
  const counts = { navigation: 0, identity: 0, poison: 0, tombstones: 0 };
  const total = plan.navigation + plan.identity;
  const chunk: { topic: string; key: Buffer; value?: Buffer }[] = [];
  const rate = deps.recordsPerSecond;
  const chunkSize = rate ? Math.max(1, Math.round(rate / 20)) : 1_000;
  const flush = async () => {
    if (chunk.length === 0) return;
    await producer.send({ messages: chunk.splice(0) });
    const sent = counts.navigation + counts.identity;
    deps.onProgress?.(sent, total);
    const due = rate ? started + (sent / rate) * 1000 : 0;
    if (due > Date.now()) await sleep(due - Date.now());
  };
  try {
    for (const record of demoRecords({ ...plan, startTime: started - 60_000 }, writers)) {
      if (record.topic === plan.topics.identity) counts.identity++;
      else counts.navigation++;
      if (record.kind === 'poison') counts.poison++;
      if (record.kind === 'tombstone') counts.tombstones++;
      chunk.push({ topic: record.topic, key: record.key, value: record.value });
      if (chunk.length >= chunkSize) await flush();
    }
    await flush();
  } finally {
    await producer.close();
  }
  const ends = await topicEnds(deps.bootstrapBrokers, [plan.topics.navigation, plan.topics.identity], plan.partitions);
  return { ends, counts, started, finished: Date.now() };
}
