import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import type avro from 'avsc';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadStackConfig, REPO_ROOT } from '../../../dev/stack/config';
import { fastavroPython } from '../../../dev/stack/stack';
import {
  AvroEncoder,
  AvroReader,
  CodecError,
  ConfluentSchemaRegistry,
  compileSchema,
  frameConfluentV0,
  SchemaCache,
} from '../../../lib/codec';
import { endpoints, uniqueName } from '../endpoints';

/**
 * The codec against an Avro implementation nobody here wrote: fastavro writes records of Apache Avro's interop
 * schema, every logical type, and edge values (extreme longs, NaN/±Inf, empty and non-ASCII strings, recursion), and
 * says what each holds by reading it back (dev/interop/avro-corpus.py). Every record must decode to exactly that, by
 * the compiled type alone and through the registry (Confluent framing, with and without a reader schema).
 */
interface Corpus {
  name: string;
  schema: avro.Schema;
  records: { hex: string; expected: unknown }[];
}

let generator = '';
let corpora: Corpus[] = [];

beforeAll(async () => {
  const python = await fastavroPython(loadStackConfig());
  const { stdout } = await promisify(execFile)(
    python,
    [path.join(REPO_ROOT, 'dev/interop/avro-corpus.py'), '--seed', '20261201', '--count', '300'],
    { maxBuffer: 256 * 1024 * 1024 },
  );
  const document = JSON.parse(stdout) as { generator: string; corpora: Corpus[] };
  generator = document.generator;
  corpora = document.corpora;
}, 300_000);

/** A decoded value in the corpus's JSON form (the tags JSON needs for bytes, 64-bit longs, NaN and infinities). */
function tagged(value: unknown): unknown {
  if (Buffer.isBuffer(value)) return { $bytes: value.toString('hex') };
  if (typeof value === 'bigint') return { $long: value.toString() };
  if (typeof value === 'number' && !Number.isFinite(value)) return { $float: String(value) };
  if (Array.isArray(value)) return value.map(tagged);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, tagged(v)]));
  }
  return value;
}

/** Every record whose decoded value differs from what fastavro read, with both. */
function mismatches(corpus: Corpus, decode: (bytes: Buffer, index: number) => unknown) {
  const found: { index: number; hex: string; expected: unknown; decoded: unknown }[] = [];
  corpus.records.forEach(({ hex, expected }, index) => {
    let decoded: unknown;
    try {
      decoded = tagged(decode(Buffer.from(hex, 'hex'), index));
    } catch (error) {
      decoded = `threw ${String(error)}`;
    }
    // toEqual, not JSON text: -0 and 0 differ, as they do in the bytes.
    if (!isEqual(decoded, expected)) found.push({ index, hex, expected, decoded });
  });
  return found;
}

function isEqual(a: unknown, b: unknown): boolean {
  try {
    expect(a).toStrictEqual(b);
    return true;
  } catch {
    return false;
  }
}

describe('records written by fastavro', () => {
  it('cover every type the corpus promises', () => {
    expect(generator).toMatch(/^fastavro /);
    expect(corpora.map((c) => c.name)).toEqual(['interop', 'logical', 'edges', 'top-level-union']);
    const all = JSON.stringify(corpora.map((c) => c.records.map((r) => r.expected)));
    for (const edge of [
      '{"$float":"NaN"}',
      '{"$float":"Infinity"}',
      '{"$float":"-Infinity"}',
      '"9223372036854775807"',
    ]) {
      expect(all).toContain(edge);
    }
    expect(all).toContain('"-9223372036854775808"');
    expect(all).toContain('東京');
  });

  it('decode by the compiled writer schema to exactly what fastavro read', () => {
    for (const corpus of corpora) {
      const type = compileSchema(corpus.schema);
      const found = mismatches(corpus, (bytes) => {
        const { value, offset } = type.decode(bytes, 0);
        if (offset !== bytes.length) throw new Error(`read ${offset} of ${bytes.length} bytes`);
        return value;
      });
      expect({ corpus: corpus.name, mismatches: found }).toEqual({ corpus: corpus.name, mismatches: [] });
    }
  });

  it('decode through the registry, with and without a reader schema, to exactly what fastavro read', async () => {
    const registry = new ConfluentSchemaRegistry({ urls: [endpoints.registryUrl] });
    const encoder = new AvroEncoder(registry);
    for (const corpus of corpora) {
      const { id } = await encoder.forSubject(`${uniqueName(`interop-${corpus.name}`)}-value`, corpus.schema);
      const values = corpus.records.map(({ hex }) => ({
        value: frameConfluentV0(id, Buffer.from(hex, 'hex')).toString('base64'),
      }));
      for (const reader of [
        new AvroReader(new SchemaCache(registry)),
        new AvroReader(new SchemaCache(registry), corpus.schema),
      ]) {
        const decoded = await reader.decodeAll(values);
        const found = mismatches(corpus, (_, index) => {
          const result = decoded[index];
          if (result instanceof CodecError) throw result;
          return result;
        });
        expect({ corpus: corpus.name, mismatches: found }).toEqual({ corpus: corpus.name, mismatches: [] });
      }
    }
  });
});
