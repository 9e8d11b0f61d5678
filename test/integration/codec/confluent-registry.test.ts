import type avro from 'avsc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { navigationEvents } from '../../../dev/demo/navigation-generator';
import { FaultyProxy } from '../../../dev/faults/http-proxy';
import { NAVIGATION_V1, NAVIGATION_V2, NAVIGATION_V3, type Navigation } from '../../../functions/topics/navigation';
import {
  AvroEncoder,
  AvroReader,
  CodecError,
  ConfluentSchemaRegistry,
  compileSchema,
  type Decoded,
  frameConfluentV0,
  frameConfluentV1,
  RegistryRequestError,
  RegistryUnavailableError,
  SchemaCache,
  TOMBSTONE,
} from '../../../lib/codec';
import { endpoints, uniqueName } from '../endpoints';

const b64 = (bytes: Buffer) => bytes.toString('base64');
const codeOf = (d: Decoded<unknown>) => (d instanceof CodecError ? d.code : d === TOMBSTONE ? 'TOMBSTONE' : 'VALUE');

const generator = navigationEvents({ seed: 11, cookies: 50, startTime: Date.UTC(2026, 10, 25) });
const sample = (): Navigation => generator.next().value as Navigation;

/** A processor's reader: 5 fields, one of which (sessionId) only v2+ writers have. */
const READER: avro.Schema = {
  type: 'record',
  name: 'Navigation',
  namespace: 'com.example.events',
  fields: [
    { name: 'eventId', type: 'string' },
    { name: 'eventTime', type: 'long' },
    { name: 'cookieId', type: 'string' },
    { name: 'url', type: 'string' },
    { name: 'sessionId', type: ['null', 'string'], default: null },
  ],
} as avro.Schema;

/** A client of the real registry that records every request it sends. */
function countingRegistry() {
  const counted: string[] = [];
  const counting = new ConfluentSchemaRegistry({
    urls: [endpoints.registryUrl],
    fetch: (input, init) => {
      counted.push(String(input));
      return fetch(input, init);
    },
  });
  return { counted, counting };
}

describe('decoding records framed with ids from the real registry', () => {
  const registry = new ConfluentSchemaRegistry({ urls: [endpoints.registryUrl] });
  const encoder = new AvroEncoder(registry);
  const subject = `${uniqueName('nav')}-value`;
  let versions: { id: number; encode: (value: Navigation) => Buffer }[] = [];

  beforeAll(async () => {
    versions = [
      await encoder.forSubject<Navigation>(subject, NAVIGATION_V1),
      await encoder.forSubject<Navigation>(subject, NAVIGATION_V2),
      await encoder.forSubject<Navigation>(subject, NAVIGATION_V3),
    ];
  });

  it('registers three versions under three distinct ids, and finds the same id when registering again', async () => {
    expect(new Set(versions.map((v) => v.id)).size).toBe(3);
    expect(await registry.register(subject, JSON.stringify(NAVIGATION_V2))).toBe(versions[1]?.id);
  });

  it('reads writer v1, v2 and v3 through one reader schema, defaulting what an old writer lacks', async () => {
    const [v1, v2, v3] = versions as [(typeof versions)[0], (typeof versions)[0], (typeof versions)[0]];
    const a = sample();
    const b = { ...sample(), sessionId: 's-2' };
    const c = { ...sample(), sessionId: 's-3', pageTitle: 'Shoes', loadMillis: 412 };
    const reader = new AvroReader(new SchemaCache(registry), READER);
    const decoded = await reader.decodeAll([
      { value: b64(v1.encode(a)) },
      { value: b64(v2.encode(b)) },
      { value: b64(v3.encode(c)) },
    ]);
    const pick = (n: Navigation, sessionId: string | null) => ({
      eventId: n.eventId,
      eventTime: n.eventTime,
      cookieId: n.cookieId,
      url: n.url,
      sessionId,
    });
    expect(decoded).toEqual([pick(a, null), pick(b, 's-2'), pick(c, 's-3')]);
  });

  it('reads a record as its writer wrote it when no reader schema is given', async () => {
    const value = { ...sample(), sessionId: 's', pageTitle: 'T', loadMillis: 9 };
    const reader = new AvroReader<Navigation>(new SchemaCache(registry));
    expect(await reader.decodeAll([{ value: b64(versions[2]?.encode(value) as Buffer) }])).toEqual([value]);
  });

  it('fetches each schema once, then serves every later batch from the cache (counting real requests)', async () => {
    const { counted, counting } = countingRegistry();
    const cache = new SchemaCache(counting);
    const reader = new AvroReader(cache, READER);
    const batch = Array.from({ length: 30 }, (_, i) => ({ value: b64(versions[i % 3]?.encode(sample()) as Buffer) }));
    await reader.decodeAll(batch);
    expect(counted).toHaveLength(3);
    await reader.decodeAll(batch);
    await new AvroReader(cache).decodeAll(batch); // another reader over the same cache: no fetch either
    expect(counted).toHaveLength(3);
    expect(cache.stats()).toMatchObject({ fetches: 3, size: 3 });
  });

  it('shares one request among concurrent misses of the same schema', async () => {
    const { counted, counting } = countingRegistry();
    const cache = new SchemaCache(counting);
    const batch = [{ value: b64(versions[0]?.encode(sample()) as Buffer) }];
    const results = await Promise.all(Array.from({ length: 10 }, () => new AvroReader(cache, READER).decodeAll(batch)));
    expect(results.every((r) => codeOf(r[0] as Decoded<unknown>) === 'VALUE')).toBe(true);
    expect(counted).toHaveLength(1);
  });

  it('resolves schema references: a record type registered under another subject', async () => {
    const geoSubject = `${uniqueName('geo')}-value`;
    const geo = {
      type: 'record',
      name: 'GeoRef',
      namespace: 'com.example.refs',
      fields: [{ name: 'country', type: 'string' }],
    };
    await registry.register(geoSubject, JSON.stringify(geo));
    const main = {
      type: 'record',
      name: 'Visit',
      namespace: 'com.example.refs',
      fields: [
        { name: 'id', type: 'string' },
        { name: 'geo', type: 'com.example.refs.GeoRef' },
      ],
    };
    const id = await registry.register(`${uniqueName('visit')}-value`, JSON.stringify(main), [
      { name: 'com.example.refs.GeoRef', subject: geoSubject, version: 1 },
    ]);
    // Encode with the referenced type inlined: the bytes are the same.
    const inline = { ...main, fields: [main.fields[0], { name: 'geo', type: geo }] };
    const bytes = frameConfluentV0(
      id,
      compileSchema(inline as avro.Schema).toBuffer({ id: 'v1', geo: { country: 'FR' } }),
    );
    const decoded = await new AvroReader(new SchemaCache(registry)).decodeAll([{ value: b64(bytes) }]);
    expect(decoded).toEqual([{ id: 'v1', geo: { country: 'FR' } }]);
  });

  it('decodes the good records of a batch in place and marks each poison record with its reason', async () => {
    const v1 = versions[0] as (typeof versions)[0];
    const good = sample();
    const encoded = v1.encode(good);
    const reader = new AvroReader(new SchemaCache(registry), READER);
    const decoded = await reader.decodeAll([
      { value: b64(encoded) },
      { value: null },
      { value: b64(frameConfluentV0(2_000_000_000, encoded.subarray(5))) },
      { value: b64(encoded.subarray(0, encoded.length - 3)) },
      { value: b64(Buffer.concat([encoded, Buffer.from([1, 2])])) },
      { value: b64(Buffer.from([0x09, 1, 2, 3, 4, 5])) },
      { value: b64(frameConfluentV1('0f8fad5b-d9cb-469f-a165-70867728950e', encoded.subarray(5))) },
      { value: b64(encoded) },
    ]);
    expect(decoded.map(codeOf)).toEqual([
      'VALUE',
      'TOMBSTONE',
      'CODEC_SCHEMA_NOT_FOUND',
      'CODEC_TRUNCATED',
      'CODEC_TRAILING_BYTES',
      'CODEC_UNKNOWN_MAGIC',
      'CODEC_SCHEMA_NOT_FOUND', // this registry has no GUID lookups: the GUID names nothing it can serve
      'VALUE',
    ]);
    expect((decoded[0] as { eventId: string }).eventId).toBe(good.eventId);
  });

  it('reports a reader that cannot read a writer as poison, not a crash', async () => {
    const incompatible: avro.Schema = {
      type: 'record',
      name: 'Navigation',
      namespace: 'com.example.events',
      fields: [{ name: 'mandatoryField', type: 'string' }],
    } as avro.Schema;
    const decoded = await new AvroReader(new SchemaCache(registry), incompatible).decodeAll([
      { value: b64(versions[0]?.encode(sample()) as Buffer) },
    ]);
    expect(decoded.map(codeOf)).toEqual(['CODEC_INCOMPATIBLE_READER']);
  });
});

describe('registry faults', () => {
  const proxy = new FaultyProxy(endpoints.registryUrl);
  let proxyUrl = '';
  let body: Buffer = Buffer.alloc(0);
  beforeAll(async () => {
    proxyUrl = await proxy.start();
    const direct = new ConfluentSchemaRegistry({ urls: [endpoints.registryUrl] });
    const encoder = await new AvroEncoder(direct).forSubject<Navigation>(
      `${uniqueName('faults')}-value`,
      NAVIGATION_V1,
    );
    body = encoder.encode(sample());
  });
  afterAll(() => proxy.stop());

  it('retries 503 and 429 with backoff, then succeeds', async () => {
    proxy.failNext(2, 503);
    proxy.failNext(1, 429, { 'retry-after': '0' });
    const before = proxy.requests.length;
    const registry = new ConfluentSchemaRegistry({ urls: [proxyUrl], retries: 3, backoffMs: 10 });
    const decoded = await new AvroReader(new SchemaCache(registry)).decodeAll([{ value: b64(body) }]);
    expect(codeOf(decoded[0] as Decoded<unknown>)).toBe('VALUE');
    expect(proxy.requests.length - before).toBe(4);
  });

  it('does not retry a 401: it is a configuration error, not a poison record and not transient', async () => {
    proxy.failNext(1, 401);
    const before = proxy.requests.length;
    const registry = new ConfluentSchemaRegistry({ urls: [proxyUrl], retries: 3, backoffMs: 10 });
    const error = await new AvroReader(new SchemaCache(registry))
      .decodeAll([{ value: b64(body) }])
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistryRequestError);
    expect((error as RegistryRequestError).transient).toBe(false);
    expect(proxy.requests.length - before).toBe(1);
  });

  it('fails over to the next URL when the first is unreachable', async () => {
    const registry = new ConfluentSchemaRegistry({ urls: ['http://127.0.0.1:1', proxyUrl], retries: 0 });
    const decoded = await new AvroReader(new SchemaCache(registry)).decodeAll([{ value: b64(body) }]);
    expect(codeOf(decoded[0] as Decoded<unknown>)).toBe('VALUE');
  });

  it('rejects the batch with a transient error when no URL answers: each try ends at its timeout, then the next URL', async () => {
    // The proxy answers after 2 s: a try that did not end at its 200 ms timeout would get the schema, and decode.
    proxy.delay(2_000);
    const registry = new ConfluentSchemaRegistry({
      urls: [proxyUrl, 'http://127.0.0.1:1'],
      timeoutMs: 200,
      retries: 1,
      backoffMs: 10,
    });
    const before = proxy.requests.length;
    const error = await new AvroReader(new SchemaCache(registry))
      .decodeAll([{ value: b64(body) }])
      .catch((e: unknown) => e);
    proxy.delay(0);
    expect(error).toBeInstanceOf(RegistryUnavailableError);
    expect((error as RegistryUnavailableError).transient).toBe(true);
    expect((error as RegistryUnavailableError).code).toBe('REGISTRY_UNAVAILABLE');
    // The budget, counted: one try and one retry on the slow URL, then the unreachable one (its error is the last).
    expect(proxy.requests.length - before).toBe(2);
    expect(((error as Error).cause as Error).message).toContain('http://127.0.0.1:1/');
  });
});
