/**
 * CQL native protocol framing, v3/v4 (what cassandra-driver 4.x negotiates with Cassandra and Scylla: its v5 support
 * stops at the handshake, so the stream never switches to v5's checksummed segments). Each frame is a 9-byte header
 * — version (the high bit set on responses), flags, stream id (int16), opcode, body length (int32) — then the body.
 * The fault proxy reads whole frames out of a TCP byte stream so it can hold back or delay one response without
 * cutting another.
 */
export const CQL_HEADER_BYTES = 9;
/** The protocol's own ceiling for a frame body (256 MiB): anything larger is not CQL. */
export const CQL_MAX_BODY_BYTES = 256 * 1024 * 1024;

/**
 * Versions whose frames have this header: v1-v5 (v5's own segments begin only after the handshake, which
 * cassandra-driver 4.x never completes in v5), and DSE's 0x41/0x42, which cassandra-driver tries first: the node
 * answers with an ERROR frame and the driver steps down to v4.
 */
const FRAMED_VERSIONS = new Set([1, 2, 3, 4, 5, 0x41, 0x42]);

export const OPCODES: Readonly<Record<number, string>> = {
  0: 'ERROR',
  1: 'STARTUP',
  2: 'READY',
  3: 'AUTHENTICATE',
  5: 'OPTIONS',
  6: 'SUPPORTED',
  7: 'QUERY',
  8: 'RESULT',
  9: 'PREPARE',
  10: 'EXECUTE',
  11: 'REGISTER',
  12: 'EVENT',
  13: 'BATCH',
  14: 'AUTH_CHALLENGE',
  15: 'AUTH_RESPONSE',
  16: 'AUTH_SUCCESS',
};

export interface CqlFrame {
  /** Protocol version without the direction bit. */
  version: number;
  response: boolean;
  flags: number;
  /** The request/response pairing id; -1 on server-pushed events. */
  stream: number;
  opcode: number;
  /** The whole frame, header and body, as it travelled. */
  bytes: Buffer;
}

export class CqlFramingError extends Error {}

/** Cuts a TCP byte stream into frames, whatever the chunk boundaries; keeps an incomplete tail for the next push. */
export class CqlFrameReader {
  private pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): CqlFrame[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const frames: CqlFrame[] = [];
    let at = 0;
    while (this.pending.length - at >= CQL_HEADER_BYTES) {
      const versionByte = this.pending[at] as number;
      const version = versionByte & 0x7f;
      if (!FRAMED_VERSIONS.has(version)) throw new CqlFramingError(`not a CQL frame: version byte ${versionByte}`);
      const length = this.pending.readInt32BE(at + 5);
      if (length < 0 || length > CQL_MAX_BODY_BYTES) throw new CqlFramingError(`frame body of ${length} bytes`);
      const end = at + CQL_HEADER_BYTES + length;
      if (end > this.pending.length) break;
      frames.push({
        version,
        response: (versionByte & 0x80) !== 0,
        flags: this.pending[at + 1] as number,
        stream: this.pending.readInt16BE(at + 2),
        opcode: this.pending[at + 4] as number,
        bytes: this.pending.subarray(at, end),
      });
      at = end;
    }
    this.pending = this.pending.subarray(at);
    return frames;
  }

  /** Bytes received but not yet a whole frame. */
  get buffered(): number {
    return this.pending.length;
  }
}
