import { Murmur3Tokenizer } from 'cassandra-driver/lib/tokenizer.js';
import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../../../dev/demo/seeded-random';
import { murmur3Token } from '../../../lib/scylla/routing';

const driver = new Murmur3Tokenizer();

describe('murmur3Token', () => {
  it("gives the driver tokenizer's token for every key length from 0 to 80 bytes, every byte value in the tail", () => {
    const random = new SeededRandom(31);
    for (let length = 0; length <= 80; length++) {
      for (let fill = 0; fill < 256; fill += 17) {
        // One key of constant bytes (sign extension of the tail: 0x80-0xff) and one of random bytes per length.
        const constant = Buffer.alloc(length, fill);
        const mixed = Buffer.from(Array.from({ length }, () => random.int(256)));
        for (const key of [constant, mixed]) expect(murmur3Token(key).toString()).toBe(driver.hash(key).toString());
      }
    }
  });

  it("gives the driver tokenizer's token for 20,000 partition keys as the driver serializes them", () => {
    const random = new SeededRandom(7);
    for (let i = 0; i < 20_000; i++) {
      const text = `c-${random.hex(12)}-${'é'.repeat(i % 5)}`;
      const key = Buffer.from(text, 'utf8');
      expect(murmur3Token(key).toString()).toBe(driver.hash(key).toString());
    }
  });

  it('orders tokens as the driver does (the ring is searched by comparing them)', () => {
    const keys = ['a', 'b', 'cookie-1', 'cookie-2', '', 'ÿÿÿÿÿÿÿÿÿ'].map((k) => Buffer.from(k));
    for (const a of keys)
      for (const b of keys)
        expect(murmur3Token(a).compare(driver.hash(b))).toBe(driver.hash(a).compare(driver.hash(b)));
  });
});
