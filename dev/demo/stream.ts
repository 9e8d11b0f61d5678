import { Admin, Producer } from '@platformatic/kafka';
import { AvroEncoder, type ConfluentSchemaRegistry, frameConfluentV0 } from '../../lib/codec';
import { IDENTITY_LINK_V1, type IdentityLink } from '../../lib/domain/identity';
import { NAVIGATION_V1, NAVIGATION_V2, NAVIGATION_V3, type Navigation } from '../../lib/domain/navigation';
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

/** The demo's topics (`npm start`): what the functions consume locally and `npm run schemas:check` checks. */
export const DEMO_TOPICS = { navigation: 'navigation', identity: 'identity' } as const;

export async function produceDemoStream(
  plan: StreamPlan,
  deps: {
    bootstrapBrokers: string[];
    registry: ConfluentSchemaRegistry;
    onProgress?: (sent: number, total: number) => void;
  },
): Promise<ProducedStream> {
  await ensureTopics(deps.bootstrapBrokers, [plan.topics.navigation, plan.topics.identity], plan.partitions);
  const { navigation: versions, identity: identityV1 } = await registerDemoSchemas(
    new AvroEncoder(deps.registry),
    plan.topics,
  );
  const random = new SeededRandom(plan.seed);
  const started = Date.now();
  const generator = navigationEvents({
    seed: plan.seed,
    cookies: Math.max(100, plan.navigation / 20),
    startTime: started - 60_000,
  });
  const producer = new Producer({
    clientId: 'demo-producer',
    bootstrapBrokers: deps.bootstrapBrokers,
    idempotent: true,
  });
  const counts = { navigation: 0, identity: 0, poison: 0, tombstones: 0 };
  const total = plan.navigation + plan.identity;
  const chunk: { topic: string; key: Buffer; value?: Buffer }[] = [];
  const flush = async () => {
    if (chunk.length === 0) return;
    await producer.send({ messages: chunk.splice(0) });
    deps.onProgress?.(counts.navigation + counts.identity, total);
  };
  try {
    for (let i = 0; i < total; i++) {
      const n = generator.next().value as Navigation;
      const isIdentity = i % Math.ceil(total / Math.max(1, plan.identity)) === 0 && counts.identity < plan.identity;
      let value: Buffer | undefined;
      if (isIdentity) {
        counts.identity++;
        if (random.next() < 0.02) {
          counts.tombstones++;
          chunk.push({ topic: plan.topics.identity, key: Buffer.from(n.cookieId) }); // erase: a tombstone
          continue;
        }
        value = identityV1.encode({
          cookieId: n.cookieId,
          userId: `user-${n.cookieId.slice(3)}`,
          emailSha256: null,
          source: random.pick(['LOGIN', 'CRM', 'PARTNER'] as const),
          consent: n.consent,
          eventTime: n.eventTime,
        });
      } else {
        counts.navigation++;
        // Producers upgrade over the stream: the first third writes v1, then v2, then v3.
        const version = versions[
          Math.min(2, Math.floor((3 * counts.navigation) / Math.max(1, plan.navigation)))
        ] as (typeof versions)[0];
        value = version.encode({
          ...n,
          sessionId: `s-${n.cookieId}`,
          pageTitle: 'Shop',
          loadMillis: 120 + random.int(400),
        });
      }
      if (random.next() < plan.poisonRate) {
        counts.poison++;
        value = poison(random, value);
      }
      chunk.push({
        topic: isIdentity ? plan.topics.identity : plan.topics.navigation,
        key: Buffer.from(n.cookieId),
        value,
      });
      if (chunk.length >= 1_000) await flush();
    }
    await flush();
  } finally {
    await producer.close();
  }
  const ends = await topicEnds(deps.bootstrapBrokers, [plan.topics.navigation, plan.topics.identity], plan.partitions);
  return { ends, counts, started, finished: Date.now() };
}
