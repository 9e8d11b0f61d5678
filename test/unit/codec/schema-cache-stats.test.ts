import { describe, expect, it } from 'vitest';
import { NAVIGATION_V1 } from '../../../functions/topics/navigation';
import { AvroReader, CodecError, compileSchema, frameConfluentV0, SchemaCache } from '../../../lib/codec';

/**
 * The schema cache's hit ratio (the dashboard's "Schema cache hit ratio" panel) counts records: a record decoded at
 * once with its writer schema cached is a hit, one that waited for its schema (or whose schema does not exist) a miss.
 */
const type = compileSchema(NAVIGATION_V1 as never);
const sample: unknown = type.random();
const record = (id: number) => ({ value: frameConfluentV0(id, type.toBuffer(sample)).toString('base64') });

function cachedReader() {
  const cache = new SchemaCache({
    async fetchSchema(ref) {
      if (ref.kind === 'confluent-id' && ref.id === 7) return { schema: JSON.stringify(NAVIGATION_V1), references: [] };
      throw new CodecError('CODEC_SCHEMA_NOT_FOUND', `no schema ${JSON.stringify(ref)}`);
    },
  });
  return { cache, reader: new AvroReader(cache, NAVIGATION_V1) };
}

describe('the schema cache hit ratio', () => {
  it('counts every record of a batch that waited for its schema a miss, and every later record a hit', async () => {
    const { cache, reader } = cachedReader();
    await reader.decodeAll(Array.from({ length: 10 }, () => record(7)));
    expect(cache.stats()).toMatchObject({ hits: 0, misses: 10, fetches: 1 });
    await reader.decodeAll(Array.from({ length: 10 }, () => record(7)));
    expect(cache.stats()).toMatchObject({ hits: 10, misses: 10, fetches: 1 });
  });

  it('counts each record of a schema the registry does not have a miss, beside hits for the rest', async () => {
    const { cache, reader } = cachedReader();
    await reader.decodeAll([record(7)]);
    const decoded = await reader.decodeAll([record(7), record(99), record(7), record(99)]);
    expect(decoded.filter((d) => d instanceof CodecError)).toHaveLength(2);
    expect(cache.stats()).toMatchObject({ hits: 2, misses: 1 + 2 });
  });
});
