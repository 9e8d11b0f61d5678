/**
 * The cassandra-driver modules routing.ts uses that the package does not type: the 64-bit value its Murmur3 tokens
 * hold (compared limb by limb with the ring's), the token class, and its tokenizers (to know the cluster's partitioner).
 */
declare module 'cassandra-driver/lib/types/mutable-long.js' {
  export default class MutableLong {
    constructor(b00: number, b16: number, b32: number, b48: number);
    toString(): string;
  }
}
declare module 'cassandra-driver/lib/token.js' {
  import type MutableLong from 'cassandra-driver/lib/types/mutable-long.js';
  export class Murmur3Token {
    constructor(value: MutableLong);
    compare(other: Murmur3Token): number;
    toString(): string;
  }
}
declare module 'cassandra-driver/lib/tokenizer.js' {
  import type { Murmur3Token } from 'cassandra-driver/lib/token.js';
  export class Murmur3Tokenizer {
    hash(value: Buffer): Murmur3Token;
  }
}
