import cassandra from 'cassandra-driver';
import { Murmur3Token } from 'cassandra-driver/lib/token.js';
import { Murmur3Tokenizer } from 'cassandra-driver/lib/tokenizer.js';
// The driver's own 64-bit value for Murmur3 tokens: its ring's tokens are these, and a token compares by it.
import MutableLong from 'cassandra-driver/lib/types/mutable-long.js';

/**
 * Token-aware routing without the driver's per-statement garbage. To send a statement to a replica, the driver's
 * DefaultLoadBalancingPolicy hashes its routing key with Murmur3 on MutableLong objects: a new object per 64-bit step
 * and per tail byte: 3.7 KB of garbage per navigation-enricher event, 15 % of all it allocated (a sampling heap
 * profile, `BENCH_PROFILE=allocation npm run bench:cpu`). `murmur3Token` computes the same token on plain 32-bit
 * numbers, and `RoutingPolicy` hands it to the driver's documented `Client.getReplicas(keyspace, token)` instead of
 * the key. The rest of the plan (local DC, replicas up and healthy first, the others after) stays the driver's.
 *
 * Why by hand: the driver offers no faster tokenizer, and no maintained package hashes Cassandra's Murmur3 variant
 * (x64_128 with signed tail bytes, the first 64 bits as the token). The hook it overrides, `_getReplicas`, is the
 * driver's own seam for this: one line that calls `getReplicas`, which its constructor lets callers replace (the
 * untyped `getReplicas` option). test/unit/scylla/routing.test.ts checks the tokens against the driver's tokenizer;
 * test/integration/scylla/session.test.ts fails if an upgrade stops calling the hook.
 */

// 64-bit values as two unsigned 32-bit halves (hi, lo). The helpers return their result's halves through these two
// module variables rather than an object: allocation per step is what this module exists to avoid.
let rHi = 0;
let rLo = 0;

/** The low 64 bits of (aHi, aLo) × (bHi, bLo), in 16-bit limbs so every partial product stays exact in a double. */
function mul(aHi: number, aLo: number, bHi: number, bLo: number): void {
  const a48 = aHi >>> 16;
  const a32 = aHi & 0xffff;
  const a16 = aLo >>> 16;
  const a00 = aLo & 0xffff;
  const b48 = bHi >>> 16;
  const b32 = bHi & 0xffff;
  const b16 = bLo >>> 16;
  const b00 = bLo & 0xffff;
  let c00 = a00 * b00;
  let c16 = c00 >>> 16;
  c00 &= 0xffff;
  c16 += a16 * b00;
  let c32 = c16 >>> 16;
  c16 &= 0xffff;
  c16 += a00 * b16;
  c32 += c16 >>> 16;
  c16 &= 0xffff;
  c32 += a32 * b00;
  let c48 = c32 >>> 16;
  c32 &= 0xffff;
  c32 += a16 * b16;
  c48 += c32 >>> 16;
  c32 &= 0xffff;
  c32 += a00 * b32;
  c48 += c32 >>> 16;
  c32 &= 0xffff;
  c48 += a48 * b00 + a32 * b16 + a16 * b32 + a00 * b48;
  c48 &= 0xffff;
  rHi = ((c48 << 16) | c32) >>> 0;
  rLo = ((c16 << 16) | c00) >>> 0;
}

/** Rotates left by 0 < n < 64. */
function rotl(hi: number, lo: number, n: number): void {
  if (n >= 32) {
    const swap = hi;
    hi = lo;
    lo = swap;
    n -= 32;
  }
  if (n === 0) {
    rHi = hi;
    rLo = lo;
    return;
  }
  rHi = ((hi << n) | (lo >>> (32 - n))) >>> 0;
  rLo = ((lo << n) | (hi >>> (32 - n))) >>> 0;
}

function add(aHi: number, aLo: number, bHi: number, bLo: number): void {
  const lo = aLo + bLo;
  rLo = lo >>> 0;
  rHi = (aHi + bHi + (lo > 0xffffffff ? 1 : 0)) >>> 0;
}

/** k ^= k >>> 33: with 64 bits as halves, the high half moves down one bit, and nothing is left above. */
function fmix(hi: number, lo: number): void {
  lo = (lo ^ (hi >>> 1)) >>> 0;
  mul(hi, lo, 0xff51afd7, 0xed558ccd);
  hi = rHi;
  lo = (rLo ^ (rHi >>> 1)) >>> 0;
  mul(hi, lo, 0xc4ceb9fe, 0x1a85ec53);
  rLo = (rLo ^ (rHi >>> 1)) >>> 0;
}

const C1_HI = 0x87c37b91;
const C1_LO = 0x114253d5;
const C2_HI = 0x4cf5ad43;
const C2_LO = 0x2745937f;

function uint32le(data: Uint8Array, at: number): number {
  return (
    ((data[at] as number) |
      ((data[at + 1] as number) << 8) |
      ((data[at + 2] as number) << 16) |
      ((data[at + 3] as number) << 24)) >>>
    0
  );
}

/**
 * The tail's `count` bytes from `at` as one little-endian 64-bit word, each byte read as Java reads it (signed,
 * sign-extended before its shift and XOR): into rHi, rLo.
 */
function tailWord(data: Uint8Array, at: number, count: number): void {
  let kHi = 0;
  let kLo = 0;
  for (let j = 0; j < count; j++) {
    const byte = data[at + j] as number;
    let hi = byte >= 0x80 ? 0xffffffff : 0;
    let lo = byte >= 0x80 ? byte | 0xffffff00 : byte;
    const shift = j * 8;
    if (shift >= 32) {
      hi = lo << (shift - 32);
      lo = 0;
    } else if (shift > 0) {
      hi = (hi << shift) | (lo >>> (32 - shift));
      lo = lo << shift;
    }
    kHi ^= hi;
    kLo ^= lo;
  }
  rHi = kHi >>> 0;
  rLo = kLo >>> 0;
}

/** k1 *= c1; k1 = rotl(k1, 31); k1 *= c2: into rHi, rLo. */
function mixK1(hi: number, lo: number): void {
  mul(hi, lo, C1_HI, C1_LO);
  rotl(rHi, rLo, 31);
  mul(rHi, rLo, C2_HI, C2_LO);
}

/** k2 *= c2; k2 = rotl(k2, 33); k2 *= c1: into rHi, rLo. */
function mixK2(hi: number, lo: number): void {
  mul(hi, lo, C2_HI, C2_LO);
  rotl(rHi, rLo, 33);
  mul(rHi, rLo, C1_HI, C1_LO);
}

/**
 * The Murmur3Partitioner token of a serialized partition key, as the driver's Murmur3Tokenizer computes it (Cassandra's
 * MurmurHash.hash3_x64_128, first 64 bits), as the driver's own 64-bit value for tokens.
 */
export function murmur3Token(data: Uint8Array): Murmur3Token {
  const length = data.length;
  const blocks = length >> 4;
  let h1Hi = 0;
  let h1Lo = 0;
  let h2Hi = 0;
  let h2Lo = 0;
  for (let i = 0; i < blocks; i++) {
    const at = i * 16;
    mixK1(uint32le(data, at + 4), uint32le(data, at));
    rotl((h1Hi ^ rHi) >>> 0, (h1Lo ^ rLo) >>> 0, 27);
    add(rHi, rLo, h2Hi, h2Lo);
    mul(rHi, rLo, 0, 5);
    add(rHi, rLo, 0, 0x52dce729);
    h1Hi = rHi;
    h1Lo = rLo;
    mixK2(uint32le(data, at + 12), uint32le(data, at + 8));
    rotl((h2Hi ^ rHi) >>> 0, (h2Lo ^ rLo) >>> 0, 31);
    add(rHi, rLo, h1Hi, h1Lo);
    mul(rHi, rLo, 0, 5);
    add(rHi, rLo, 0, 0x38495ab5);
    h2Hi = rHi;
    h2Lo = rLo;
  }
  const tail = blocks * 16;
  const rest = length & 15;
  if (rest > 8) {
    tailWord(data, tail + 8, rest - 8);
    mixK2(rHi, rLo);
    h2Hi = (h2Hi ^ rHi) >>> 0;
    h2Lo = (h2Lo ^ rLo) >>> 0;
  }
  if (rest > 0) {
    tailWord(data, tail, Math.min(rest, 8));
    mixK1(rHi, rLo);
    h1Hi = (h1Hi ^ rHi) >>> 0;
    h1Lo = (h1Lo ^ rLo) >>> 0;
  }
  // The length is below 2^32: it only touches the low half.
  h1Lo = (h1Lo ^ length) >>> 0;
  h2Lo = (h2Lo ^ length) >>> 0;
  add(h1Hi, h1Lo, h2Hi, h2Lo);
  h1Hi = rHi;
  h1Lo = rLo;
  add(h2Hi, h2Lo, h1Hi, h1Lo);
  fmix(rHi, rLo);
  h2Hi = rHi;
  h2Lo = rLo;
  fmix(h1Hi, h1Lo);
  add(rHi, rLo, h2Hi, h2Lo);
  return new Murmur3Token(new MutableLong(rLo & 0xffff, rLo >>> 16, rHi & 0xffff, rHi >>> 16));
}

/** What the policy uses of the client: typed here, as the driver's typings leave `metadata.tokenizer` out. */
interface RoutingClient {
  metadata: { tokenizer?: unknown };
  getReplicas(keyspace: string, token: Buffer | Murmur3Token): unknown[] | null;
}

/**
 * The driver's DefaultLoadBalancingPolicy (token aware, local DC first) with the replicas looked up by a token this
 * module computes, on clusters whose partitioner is Murmur3 (Scylla's and Cassandra's default); on any other, the
 * driver's own lookup.
 */
export class RoutingPolicy extends cassandra.policies.loadBalancing.DefaultLoadBalancingPolicy {
  private client: RoutingClient | undefined;

  override init(
    ...[client, hosts, callback]: Parameters<cassandra.policies.loadBalancing.LoadBalancingPolicy['init']>
  ) {
    this.client = client as unknown as RoutingClient;
    super.init(client, hosts, callback);
  }

  /** The driver's hook (see above), called with the statement's serialized partition key. */
  protected _getReplicas(keyspace: string, routingKey: Buffer): unknown[] | null {
    const client = this.client as RoutingClient;
    return client.metadata.tokenizer instanceof Murmur3Tokenizer
      ? client.getReplicas(keyspace, murmur3Token(routingKey))
      : client.getReplicas(keyspace, routingKey);
  }
}
