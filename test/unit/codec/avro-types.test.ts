import avro from 'avsc';
import { describe, expect, it } from 'vitest';
import { CodecError, compileSchema, MAX_ZERO_BYTE_ITEMS } from '../../../lib/codec';
import { minEncodedBytes } from '../../../lib/codec/avro-types';

/** Encodes with plain avsc (an independent writer), decodes with the project's compiled type. */
function roundTrip(schema: avro.Schema, value: unknown, expected: unknown = value) {
  const bytes = avro.Type.forSchema(schema, { wrapUnions: false }).toBuffer(value);
  const decoded = compileSchema(schema).decode(bytes, 0);
  expect(decoded.offset).toBe(bytes.length);
  expect(decoded.value).toEqual(expected);
}

describe('every Avro type round-trips', () => {
  it.each<[string, avro.Schema, unknown]>([
    ['null', 'null', null],
    ['boolean', 'boolean', true],
    ['int', 'int', -2147483648],
    ['long (within avsc’s own ±2^52)', 'long', -4503599627370496],
    ['float', 'float', 1.5],
    ['double', 'double', Math.PI],
    ['bytes', 'bytes', Buffer.from([0, 255, 7])],
    ['string (short, ASCII)', 'string', 'FR'],
    ['string (unicode)', 'string', 'Zürich — 東京 🚀'],
    ['string (long)', 'string', 'x'.repeat(5000)],
    ['string (empty)', 'string', ''],
    ['enum', { type: 'enum', name: 'E', symbols: ['A', 'B', 'C'] }, 'C'],
    ['fixed', { type: 'fixed', name: 'F', size: 4 }, Buffer.from([1, 2, 3, 4])],
    ['array', { type: 'array', items: 'string' }, ['a', 'b', 'a']],
    ['array (empty)', { type: 'array', items: 'int' }, []],
    ['map', { type: 'map', values: 'long' }, { a: 1, b: -2 }],
    ['union (null branch)', ['null', 'string'], null],
    ['union (string branch)', ['null', 'string'], 'x'],
    ['uuid', { type: 'string', logicalType: 'uuid' }, '0f8fad5b-d9cb-469f-a165-70867728950e'],
    ['timestamp-millis as epoch ms', { type: 'long', logicalType: 'timestamp-millis' }, 1764000000123],
    ['timestamp-micros as epoch µs', { type: 'long', logicalType: 'timestamp-micros' }, 1764000000123456],
    [
      'nested record',
      {
        type: 'record',
        name: 'R',
        fields: [
          { name: 'id', type: 'string' },
          { name: 'geo', type: { type: 'record', name: 'G', fields: [{ name: 'lat', type: 'double' }] } },
          { name: 'tags', type: { type: 'array', items: 'string' } },
        ],
      },
      { id: 'r1', geo: { lat: 48.85 }, tags: ['x'] },
    ],
  ])('%s', (_, schema, value) => roundTrip(schema, value));
});

/**
 * Records that contain themselves (Apache Avro's interop schema has one). Each case: a writer schema and a value, and
 * a reader schema of the same recursive shape that drops a writer field and adds a defaulted one, with the value it
 * reads. Plain avsc writes the bytes.
 */
describe('recursive schemas', () => {
  type Tree = { label: string; weight: number; children: Tree[] };
  const tree = (depth: number, label = 'r'): Tree => ({
    label,
    weight: depth / 2,
    children: depth === 0 ? [] : [tree(depth - 1, `${label}0`), tree(depth - 1, `${label}1`)],
  });
  const treeAsRead = (t: Tree): unknown => ({ label: t.label, seen: false, children: t.children.map(treeAsRead) });

  type List = { value: number; next: List | null };
  const list = (n: number): List | null => (n === 0 ? null : { value: n, next: list(n - 1) });
  const listAsRead = (l: List | null): unknown => (l ? { value: l.value, tag: 'x', next: listAsRead(l.next) } : null);

  type Dir = { size: number; owner: string; entries: Record<string, Dir> };
  const dir = (depth: number): Dir => ({
    size: depth * 100,
    owner: 'ü',
    entries: depth === 0 ? {} : { a: dir(depth - 1), 'ß/b': dir(depth - 1) },
  });
  const dirAsRead = (d: Dir): unknown => ({
    size: d.size,
    entries: Object.fromEntries(Object.entries(d.entries).map(([k, v]) => [k, dirAsRead(v)])),
  });

  const expr = { op: 'add', args: [1, 'x', { op: 'mul', args: [2, { op: 'neg', args: ['y'] }] }] };

  const cases: {
    name: string;
    writer: avro.Schema;
    value: unknown;
    reader: avro.Schema;
    read: unknown;
  }[] = [
    {
      name: 'a tree six levels deep (array of itself)',
      writer: {
        type: 'record',
        name: 'Node',
        fields: [
          { name: 'label', type: 'string' },
          { name: 'weight', type: 'double' },
          { name: 'children', type: { type: 'array', items: 'Node' } },
        ],
      },
      value: tree(6),
      reader: {
        type: 'record',
        name: 'Node',
        fields: [
          { name: 'label', type: 'string' },
          { name: 'seen', type: 'boolean', default: false },
          { name: 'children', type: { type: 'array', items: 'Node' } },
        ],
      },
      read: treeAsRead(tree(6)),
    },
    {
      name: 'a linked list through ["null", "Node"], 200 long',
      writer: {
        type: 'record',
        name: 'Node',
        fields: [
          { name: 'value', type: 'int' },
          { name: 'next', type: ['null', 'Node'] },
        ],
      },
      value: list(200),
      reader: {
        type: 'record',
        name: 'Node',
        fields: [
          { name: 'value', type: 'long' }, // promoted
          { name: 'tag', type: 'string', default: 'x' },
          { name: 'next', type: ['null', 'Node'] },
        ],
      },
      read: listAsRead(list(200)),
    },
    {
      name: 'a directory reached through a map of itself',
      writer: {
        type: 'record',
        name: 'Dir',
        fields: [
          { name: 'size', type: 'long' },
          { name: 'owner', type: 'string' },
          { name: 'entries', type: { type: 'map', values: 'Dir' } },
        ],
      },
      value: dir(4),
      reader: {
        type: 'record',
        name: 'Dir',
        fields: [
          { name: 'size', type: 'long' },
          { name: 'entries', type: { type: 'map', values: 'Dir' } },
        ],
      },
      read: dirAsRead(dir(4)),
    },
    {
      name: 'an expression reached through a union inside an array',
      writer: {
        type: 'record',
        name: 'Expr',
        fields: [
          { name: 'op', type: 'string' },
          { name: 'args', type: { type: 'array', items: ['long', 'string', 'Expr'] } },
        ],
      },
      value: expr,
      reader: {
        type: 'record',
        name: 'Expr',
        fields: [
          { name: 'op', type: 'string' },
          { name: 'args', type: { type: 'array', items: ['null', 'long', 'string', 'Expr'] } },
        ],
      },
      read: expr,
    },
  ];

  it.each(cases)('$name: compiles and decodes as a writer schema', ({ writer, value }) => roundTrip(writer, value));

  it.each(cases)('$name: resolves into a reader schema of the same shape', ({ writer, value, reader, read }) => {
    const bytes = avro.Type.forSchema(writer, { wrapUnions: false }).toBuffer(value);
    const readerType = compileSchema(reader);
    const decoded = readerType.decode(bytes, 0, readerType.createResolver(compileSchema(writer)));
    expect(decoded.offset).toBe(bytes.length);
    expect(decoded.value).toEqual(read);
  });

  it.each(cases)('$name: resolves into itself', ({ writer, value }) => {
    const bytes = avro.Type.forSchema(writer, { wrapUnions: false }).toBuffer(value);
    const type = compileSchema(writer);
    expect(type.decode(bytes, 0, type.createResolver(compileSchema(writer))).value).toEqual(value);
  });

  it('still refuses a hostile item count inside a recursive array, with and without resolution', () => {
    const [treeCase] = cases as [(typeof cases)[0]];
    const zigzag = (n: number) => avro.Type.forSchema('long').toBuffer(n);
    // label "r", weight 0, then children claiming 2^40 items with 8 bytes left.
    const bytes = Buffer.concat([Buffer.from([2, 0x72]), Buffer.alloc(8), zigzag(2 ** 40), Buffer.alloc(8)]);
    const readerType = compileSchema(treeCase.reader);
    for (const decode of [
      () => compileSchema(treeCase.writer).decode(bytes, 0),
      () => readerType.decode(bytes, 0, readerType.createResolver(compileSchema(treeCase.writer))),
    ]) {
      let error: unknown;
      try {
        decode();
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(CodecError);
      expect((error as CodecError).code).toBe('CODEC_INVALID_DATA');
    }
  });
});

describe('unions', () => {
  it('read as the branch value when JavaScript can tell the branches apart', () => {
    roundTrip(['null', 'long', 'string'], 'x');
    roundTrip(['null', 'long', 'string'], 7);
  });

  it('read wrapped, as Avro JSON writes them, when it cannot (long and double, two records)', () => {
    const numbers: avro.Schema = ['null', 'long', 'double'];
    const type = compileSchema(numbers);
    const written = (branch: string, value: unknown) =>
      avro.Type.forSchema(numbers, { wrapUnions: true }).toBuffer(value === null ? null : { [branch]: value });
    expect({ ...(type.fromBuffer(written('long', 5)) as object) }).toEqual({ long: 5 });
    expect({ ...(type.fromBuffer(written('double', 5)) as object) }).toEqual({ double: 5 });
    expect(type.fromBuffer(written('null', null))).toBe(null);

    const events: avro.Schema = [
      { type: 'record', name: 'Login', fields: [{ name: 'user', type: 'string' }] },
      { type: 'record', name: 'Logout', fields: [{ name: 'user', type: 'string' }] },
    ];
    const bytes = avro.Type.forSchema(events, { wrapUnions: true }).toBuffer({ Logout: { user: 'u1' } });
    expect({ ...(compileSchema(events).fromBuffer(bytes) as object) }).toEqual({ Logout: { user: 'u1' } });
  });
});

describe('64-bit longs never lose precision', () => {
  const type = compileSchema('long');
  it.each([[2n ** 53n + 1n], [-(2n ** 63n)], [2n ** 63n - 1n], [-(2n ** 53n) - 1n]])(
    '%s comes back as the same bigint',
    (value) => {
      const bytes = type.toBuffer(value);
      expect(type.decode(bytes, 0).value).toBe(value);
    },
  );

  it('a long within ±2^53 comes back as a number', () => {
    expect(type.decode(type.toBuffer(2n ** 53n - 1n), 0).value).toBe(2 ** 53 - 1);
  });
});

describe('decimal reads as an exact decimal string', () => {
  const schema: avro.Schema = { type: 'bytes', logicalType: 'decimal', precision: 20, scale: 4 } as avro.Schema;
  const type = compileSchema(schema);
  it.each(['0.0000', '12.3400', '-12.3400', '-0.0001', '9999999999999999.9999'])('%s', (value) => {
    expect(type.decode(type.toBuffer(value), 0).value).toBe(value);
  });

  it('reads the two’s complement bytes another writer produced', () => {
    // -1234 unscaled, scale 4 → -0.1234; big-endian two's complement 0xFB2E
    expect(type.decode(avro.Type.forSchema('bytes').toBuffer(Buffer.from([0xfb, 0x2e])), 0).value).toBe('-0.1234');
  });
});

describe('hostile length prefixes are refused before anything is allocated', () => {
  const zigzag = (n: number) => avro.Type.forSchema('long').toBuffer(n);

  it.each<[string, avro.Schema]>([
    ['array of strings', { type: 'array', items: 'string' }],
    ['array of nulls (zero-byte items)', { type: 'array', items: 'null' }],
    ['map of ints', { type: 'map', values: 'int' }],
  ])('%s claiming 2^50 items', (_, schema) => {
    const bytes = Buffer.concat([zigzag(2 ** 50), Buffer.alloc(8)]);
    let error: unknown;
    try {
      compileSchema(schema).decode(bytes, 0);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CodecError);
    expect((error as CodecError).code).toBe('CODEC_INVALID_DATA');
    // Refused on the count itself, before one item is read: the message gives the claim and the 8 bytes behind it.
    expect((error as CodecError).message).toContain(`claims ${2 ** 50} items but only 8 bytes are left`);
  });

  it.each<[string, avro.Schema]>([
    ['array of strings', { type: 'array', items: 'string' }],
    ['array of nulls (zero-byte items)', { type: 'array', items: 'null' }],
    ['map of ints', { type: 'map', values: 'int' }],
  ])('%s claiming 2^50 items in a field the reader drops (skipped, not read)', (_, schema) => {
    const writer = compileSchema({
      type: 'record',
      name: 'R',
      fields: [
        { name: 'dropped', type: schema },
        { name: 'kept', type: 'int' },
      ],
    });
    const reader = compileSchema({ type: 'record', name: 'R', fields: [{ name: 'kept', type: 'int' }] });
    const resolver = reader.createResolver(writer);
    const bytes = Buffer.concat([zigzag(2 ** 50), Buffer.alloc(8)]);
    let error: unknown;
    try {
      reader.decode(bytes, 0, resolver);
    } catch (e) {
      error = e;
    }
    expect((error as CodecError).code).toBe('CODEC_INVALID_DATA');
    expect((error as CodecError).message).toContain(`claims ${2 ** 50} items but only 8 bytes are left`);
  });

  it('still reads a genuinely long array of zero-byte items up to the cap', () => {
    const schema: avro.Schema = { type: 'array', items: 'null' };
    const value = new Array(1000).fill(null);
    roundTrip(schema, value);
    expect(MAX_ZERO_BYTE_ITEMS).toBeGreaterThanOrEqual(1000);
  });

  it('computes the smallest encoding of each type', () => {
    const record = compileSchema({
      type: 'record',
      name: 'M',
      fields: [
        { name: 'a', type: 'null' },
        { name: 'b', type: 'double' },
        { name: 'c', type: { type: 'fixed', name: 'F', size: 3 } },
        { name: 'd', type: 'string' },
      ],
    });
    expect(minEncodedBytes(record)).toBe(0 + 8 + 3 + 1);
  });
});

describe('short-string interning', () => {
  it('returns the right string when two different strings share a cache slot', () => {
    // Find two distinct short strings whose hashes land in the same slot, then decode them alternately.
    const slotOf = (s: string) => {
      const bytes = Buffer.from(s);
      let hash = bytes.length;
      for (const byte of bytes) hash = (Math.imul(hash, 31) + byte) | 0;
      return hash & 4095;
    };
    const seen = new Map<number, string>();
    let pair: [string, string] | undefined;
    for (let i = 0; !pair; i++) {
      const candidate = `k${i}`;
      const other = seen.get(slotOf(candidate));
      if (other !== undefined) pair = [other, candidate];
      else seen.set(slotOf(candidate), candidate);
    }
    const type = compileSchema('string');
    for (let round = 0; round < 3; round++) {
      for (const s of pair) expect(type.decode(type.toBuffer(s), 0).value).toBe(s);
    }
  });
});
