/**
 * Records an event-source mapping decoded with its own schema registry integration. AWS, "Using schema registries
 * with Kafka event sources in Lambda" (lambda/latest/dg/services-consume-kafka-events.html) and
 * AWS::Lambda::EventSourceMapping SchemaRegistryConfig: with `EventRecordFormat` SOURCE "Lambda removes all schema
 * metadata, such as the schema ID" from the value; with JSON the record arrives "as a standard JSON object"; either
 * way the record carries `valueSchemaMetadata` `{ dataFormat, schemaId }` (the shape Powertools models).
 */
import { describe, expect, it } from 'vitest';
import { NAVIGATION_V1, NAVIGATION_V3 } from '../../../functions/topics/navigation';
import {
  AvroReader,
  CodecError,
  compileSchema,
  frameConfluentV0,
  frameGlue,
  type KafkaValue,
  mappingFrame,
  SchemaCache,
  type SchemaMetadata,
  type SchemaRef,
  TOMBSTONE,
} from '../../../lib/codec';

const GLUE_VERSION = '6f1a4c2e-8d3b-4e5f-9a7c-1b2d3e4f5a6b';

/** A registry holding NAVIGATION_V3 under Confluent id 7 and Glue version GLUE_VERSION. */
function registry() {
  const asked: SchemaRef[] = [];
  const cache = new SchemaCache({
    async fetchSchema(ref) {
      asked.push(ref);
      if (
        (ref.kind === 'confluent-id' && ref.id === 7) ||
        (ref.kind === 'glue-version' && ref.versionId === GLUE_VERSION)
      )
        return { schema: JSON.stringify(NAVIGATION_V3), references: [] };
      throw new CodecError('CODEC_SCHEMA_NOT_FOUND', `no schema ${JSON.stringify(ref)}`);
    },
  });
  return { cache, asked };
}

const writer = compileSchema(NAVIGATION_V3);
const event = {
  eventId: '1b4e28ba-2fa1-41d2-883f-0016d3cca427',
  eventTime: 1_700_000_000_123,
  cookieId: 'c-1',
  userId: null,
  url: 'https://example.com/a',
  referrer: 'https://example.com/',
  userAgent: 'ua',
  ip: '192.0.2.1',
  geo: { country: 'FR', city: 'Lyon', lat: 45.75, lon: 4.85 },
  tags: ['x', 'y'],
  attributes: { k: 'v' },
  consent: 'GRANTED',
  sessionId: 's-1',
  pageTitle: null,
  loadMillis: 120,
};
const body = writer.toBuffer(event);
const b64 = (bytes: Buffer | string) => Buffer.from(bytes).toString('base64');
const confluent: SchemaMetadata = { dataFormat: 'AVRO', schemaId: '7' };
const glue: SchemaMetadata = { dataFormat: 'AVRO', schemaId: GLUE_VERSION };

/** A record of an int `n` and a field `s` of `type`, and a reader whose registry serves it under any id. */
function twoFields(name: string, type: 'string' | 'bytes') {
  const schema = {
    type: 'record',
    name,
    fields: [
      { name: 'n', type: 'int' },
      { name: 's', type },
    ],
  };
  const cache = new SchemaCache({ fetchSchema: async () => ({ schema: JSON.stringify(schema), references: [] }) });
  return { type: compileSchema(schema as never), reader: new AvroReader(cache) };
}

async function decode(records: KafkaValue[], readerSchema = NAVIGATION_V1) {
  const { cache, asked } = registry();
  const decoded = await new AvroReader(cache, readerSchema).decodeAll(records);
  return { decoded, asked };
}

describe('a record the mapping decoded names its schema in valueSchemaMetadata', () => {
  it('reads a Confluent schema id as a number and a Glue schema version id as a UUID', () => {
    expect(mappingFrame(body, confluent)).toMatchObject({ format: 'mapping', schemaId: 7, bodyStart: 0 });
    expect(mappingFrame(body, glue)).toMatchObject({ format: 'mapping', schemaId: -1, schemaUuid: GLUE_VERSION });
  });

  it.each([
    ['a Protobuf schema', { dataFormat: 'PROTOBUF', schemaId: '7' }],
    ['a JSON Schema', { dataFormat: 'JSON', schemaId: '7' }],
    ['a schema id that is neither a number nor a UUID', { dataFormat: 'AVRO', schemaId: 'value-schema-002' }],
    ['a schema id past int32', { dataFormat: 'AVRO', schemaId: '4294967296' }],
  ])('refuses %s as poison (CODEC_UNSUPPORTED_SCHEMA)', (_what, metadata) => {
    expect(() => mappingFrame(body, metadata)).toThrow(expect.objectContaining({ code: 'CODEC_UNSUPPORTED_SCHEMA' }));
  });
});

describe('SOURCE, JSON and framed records decode to the same value', () => {
  it('reads a SOURCE value (the Avro body without framing) through the reader schema, for Confluent and Glue', async () => {
    const framed = await decode([{ value: b64(frameConfluentV0(7, body)) }]);
    const { decoded, asked } = await decode([
      { value: b64(body), valueSchemaMetadata: confluent },
      { value: b64(body), valueSchemaMetadata: glue },
    ]);
    expect(decoded).toEqual([framed.decoded[0], framed.decoded[0]]);
    expect(decoded[0]).not.toHaveProperty('sessionId'); // the v1 reader skips what it does not name
    expect(asked).toEqual([
      { kind: 'confluent-id', id: 7 },
      { kind: 'glue-version', versionId: GLUE_VERSION },
    ]);
  });

  it('reads a JSON value (plain JSON values) as the framed record reads', async () => {
    const framed = await decode([{ value: b64(frameGlue(GLUE_VERSION, body)) }], NAVIGATION_V3);
    const { decoded } = await decode(
      [{ value: b64(JSON.stringify(event)), valueSchemaMetadata: confluent }],
      NAVIGATION_V3,
    );
    expect(decoded).toEqual(framed.decoded);
    expect(decoded[0]).toMatchObject({ sessionId: 's-1', loadMillis: 120, geo: { city: 'Lyon' } });
  });

  it("reads a JSON value in Avro's own JSON encoding (unions wrapped by branch)", async () => {
    const { decoded } = await decode(
      [{ value: b64(writer.toString(event)), valueSchemaMetadata: confluent }],
      NAVIGATION_V3,
    );
    expect(writer.toString(event)).toContain('{"string":"s-1"}');
    expect(decoded[0]).toMatchObject({ sessionId: 's-1', referrer: 'https://example.com/', loadMillis: 120 });
  });

  it('takes a SOURCE body that starts with 0x7b for Avro, not JSON, when it is not JSON text', async () => {
    const { type, reader } = twoFields('R', 'string');
    const bytes = type.toBuffer({ n: -62, s: 'abc' }); // zigzag(-62) = 123 = '{'
    expect(bytes[0]).toBe(0x7b);
    const decoded = await reader.decodeAll([{ value: b64(bytes), valueSchemaMetadata: confluent }]);
    expect(decoded).toEqual([{ n: -62, s: 'abc' }]);
  });

  it('dead-letters a JSON value that does not match its schema, naming the field, and keeps the batch', async () => {
    const { decoded } = await decode([
      { value: b64(JSON.stringify({ ...event, geo: { ...event.geo, lat: 'north' } })), valueSchemaMetadata: confluent },
      { value: b64(body), valueSchemaMetadata: confluent },
      { value: null, valueSchemaMetadata: confluent },
    ]);
    expect(decoded[0]).toBeInstanceOf(CodecError);
    expect(decoded[0]).toMatchObject({ code: 'CODEC_INVALID_DATA', message: expect.stringContaining('geo.lat') });
    expect(decoded[1]).toMatchObject({ cookieId: 'c-1' });
    expect(decoded[2]).toBe(TOMBSTONE);
  });

  it('never takes a SOURCE body that starts with 0x00 for a Confluent v0 frame', async () => {
    const { type, reader } = twoFields('Z', 'bytes');
    const bytes = type.toBuffer({ n: 0, s: Buffer.from([0, 0, 0, 7]) });
    expect(bytes[0]).toBe(0x00);
    // Warm the id-7 plan so the Confluent fast path would match if it were taken.
    await reader.decodeAll([{ value: b64(frameConfluentV0(7, bytes)) }]);
    const decoded = await reader.decodeAll([{ value: b64(bytes), valueSchemaMetadata: confluent }]);
    expect(decoded).toEqual([{ n: 0, s: Buffer.from([0, 0, 0, 7]) }]);
  });
});
