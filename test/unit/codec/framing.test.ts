import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  CodecError,
  frameConfluentV0,
  frameConfluentV1,
  frameGlue,
  frameKey,
  type PoisonCode,
  parseFrame,
} from '../../../lib/codec';

const body = Buffer.from([0x02, 0x61, 0x62]);
const guid = '0f8fad5b-d9cb-469f-a165-70867728950e';

function poisonCode(run: () => unknown): PoisonCode | string {
  try {
    run();
    return 'no error';
  } catch (error) {
    return error instanceof CodecError ? error.code : `untyped ${String(error)}`;
  }
}

describe('parseFrame detects the wire format', () => {
  it('reads a Confluent v0 prefix: magic 0 and a big-endian int32 id', () => {
    const frame = parseFrame(frameConfluentV0(0x01020304, body));
    expect(frame).toMatchObject({ format: 'confluent-v0', schemaId: 0x01020304, schemaUuid: undefined, bodyStart: 5 });
    expect(frame.bytes.subarray(frame.bodyStart)).toEqual(body);
    expect(frameKey(frame)).toBe('id:16909060');
  });

  it('reads a Confluent v1 prefix: magic 1 and a 16-byte GUID', () => {
    const frame = parseFrame(frameConfluentV1(guid, body));
    expect(frame).toMatchObject({ format: 'confluent-v1', schemaId: -1, schemaUuid: guid, bodyStart: 17 });
    expect(frameKey(frame)).toBe(`guid:${guid}`);
  });

  it('takes the schema id from the __value_schema_id header when there is one, and the whole value as Avro', () => {
    const byId = parseFrame(body, frameConfluentV0(42, Buffer.alloc(0)));
    expect(byId).toMatchObject({ format: 'confluent-header', schemaId: 42, bodyStart: 0 });
    const byGuid = parseFrame(body, frameConfluentV1(guid, Buffer.alloc(0)));
    expect(byGuid).toMatchObject({ format: 'confluent-header', schemaId: -1, schemaUuid: guid, bodyStart: 0 });
  });

  it('reads an AWS Glue header, uncompressed and zlib-compressed', () => {
    const plain = parseFrame(frameGlue(guid, body));
    expect(plain).toMatchObject({ format: 'glue', schemaId: -1, schemaUuid: guid, bodyStart: 18 });
    expect(frameKey(plain)).toBe(`glue:${guid}`);
    const compressed = parseFrame(frameGlue(guid, body, true));
    expect(compressed.bytes.subarray(compressed.bodyStart)).toEqual(body);
  });
});

describe('parseFrame refuses poison with a typed code', () => {
  it.each([
    ['an empty value', Buffer.alloc(0), 'CODEC_EMPTY_VALUE'],
    ['an unknown magic byte', Buffer.from([0x07, 1, 2, 3, 4, 5]), 'CODEC_UNKNOWN_MAGIC'],
    ['a v0 header cut short', Buffer.from([0x00, 0, 0, 1]), 'CODEC_SHORT_HEADER'],
    ['a v1 header cut short', Buffer.from([0x01, 1, 2, 3, 4, 5, 6, 7]), 'CODEC_SHORT_HEADER'],
    ['a Glue header cut short', Buffer.from([0x03, 0x00, 1, 2, 3]), 'CODEC_SHORT_HEADER'],
    [
      'an unknown Glue compression',
      Buffer.concat([Buffer.from([0x03, 0x09]), Buffer.alloc(16), body]),
      'CODEC_UNKNOWN_MAGIC',
    ],
    [
      'a Glue body that is not zlib',
      Buffer.concat([Buffer.from([0x03, 0x05]), Buffer.alloc(16), body]),
      'CODEC_DECOMPRESSION_FAILED',
    ],
  ])('%s', (_, bytes, code) => {
    expect(poisonCode(() => parseFrame(bytes))).toBe(code);
  });

  it('an empty schema id header', () => {
    expect(poisonCode(() => parseFrame(body, Buffer.alloc(0)))).toBe('CODEC_EMPTY_VALUE');
  });

  it('refuses a Glue body that inflates past the limit instead of allocating it (zip bomb)', () => {
    const bomb = Buffer.concat([
      Buffer.from([0x03, 0x05]),
      Buffer.alloc(16),
      deflateSync(Buffer.alloc(64 * 1024 * 1024)),
    ]);
    expect(bomb.length).toBeLessThan(100 * 1024);
    expect(poisonCode(() => parseFrame(bomb, undefined, 1024 * 1024))).toBe('CODEC_DECOMPRESSION_FAILED');
  });
});
