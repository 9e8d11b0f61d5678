import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type CqlFrame, CqlFrameReader, CqlFramingError, OPCODES } from '../../../dev/faults/cql-frames';
import { REPO_ROOT } from '../../../dev/stack/config';

/**
 * The fault proxy's framing on real traffic: a cassandra-driver session with Cassandra 5.0 as the chunks crossed
 * the proxy (test/fixtures/cql-v4-session.json, made by dev/faults/capture-cql.ts).
 */
interface Capture {
  chunks: { connection: number; direction: 'request' | 'response'; hex: string }[];
}
const capture = JSON.parse(readFileSync(path.join(REPO_ROOT, 'test/fixtures/cql-v4-session.json'), 'utf8')) as Capture;

/** Each connection's byte stream in one direction, as the chunks that carried it. */
function streams(): Map<string, Buffer[]> {
  const out = new Map<string, Buffer[]>();
  for (const c of capture.chunks) {
    const key = `${c.connection}/${c.direction}`;
    out.set(key, [...(out.get(key) ?? []), Buffer.from(c.hex, 'hex')]);
  }
  return out;
}

function read(chunks: Buffer[]): { frames: CqlFrame[]; buffered: number } {
  const reader = new CqlFrameReader();
  const frames = chunks.flatMap((chunk) => reader.push(chunk));
  return { frames, buffered: reader.buffered };
}

const REQUESTS = new Set(['STARTUP', 'AUTH_RESPONSE', 'OPTIONS', 'QUERY', 'PREPARE', 'EXECUTE', 'BATCH', 'REGISTER']);
const RESPONSES = new Set([
  'ERROR',
  'READY',
  'AUTHENTICATE',
  'SUPPORTED',
  'RESULT',
  'EVENT',
  'AUTH_CHALLENGE',
  'AUTH_SUCCESS',
]);

describe('CQL framing on captured real traffic', () => {
  it('cuts every stream into whole frames that add up to the bytes, with nothing left over', () => {
    expect(streams().size).toBeGreaterThanOrEqual(4); // at least two connections, both directions
    for (const [key, chunks] of streams()) {
      const { frames, buffered } = read(chunks);
      expect(buffered, key).toBe(0);
      expect(Buffer.concat(frames.map((f) => f.bytes))).toEqual(Buffer.concat(chunks));
      for (const frame of frames) {
        // v4 once negotiated; before that the driver's DSE probes (0x42, 0x41) and the node's answers to them.
        expect([4, 0x41, 0x42, 5]).toContain(frame.version);
        expect(frame.response).toBe(key.endsWith('response'));
        const name = OPCODES[frame.opcode] ?? `0x${frame.opcode.toString(16)}`;
        expect(frame.response ? RESPONSES : REQUESTS, name).toContain(name);
      }
    }
  });

  it('pairs every request with one response by stream id, and sees the pushed events on stream -1', () => {
    const all = streams();
    let events = 0;
    for (const [key, chunks] of all) {
      if (!key.endsWith('request')) continue;
      const requests = read(chunks).frames;
      const responses = read(all.get(key.replace('request', 'response')) ?? []).frames;
      events += responses.filter((f) => f.stream === -1 && OPCODES[f.opcode] === 'EVENT').length;
      const answered = responses.filter((f) => f.stream >= 0).map((f) => f.stream);
      expect(answered.sort((a, b) => a - b)).toEqual(requests.map((f) => f.stream).sort((a, b) => a - b));
    }
    expect(events).toBeGreaterThan(0);
  });

  it('gives the same frames whatever the chunk boundaries (byte by byte, or in 1,000-byte pieces)', () => {
    for (const chunks of streams().values()) {
      const whole = Buffer.concat(chunks);
      const expected = read(chunks).frames.map((f) => f.bytes.toString('hex'));
      for (const size of [1, 7, 1000]) {
        const pieces = Array.from({ length: Math.ceil(whole.length / size) }, (_, i) =>
          whole.subarray(i * size, (i + 1) * size),
        );
        expect(read(pieces).frames.map((f) => f.bytes.toString('hex'))).toEqual(expected);
      }
    }
  });

  it('refuses a stream that is not CQL rather than forwarding garbage', () => {
    expect(() => new CqlFrameReader().push(Buffer.from('GET / HTTP/1.1\r\n\r\n'))).toThrow(CqlFramingError);
    const header = Buffer.from([0x84, 0, 0, 1, 0x08, 0x7f, 0xff, 0xff, 0xff]);
    expect(() => new CqlFrameReader().push(header)).toThrow(/frame body of/);
  });
});
