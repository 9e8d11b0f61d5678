import type avro from 'avsc';
import { Type, types } from './avsc';
import { CodecError } from './errors';

/**
 * How Avro values become JavaScript values here, and the guards avsc does not have. avsc is the fastest Avro
 * implementation for Node; we extend it through its documented `typeHook` and `logicalTypes` options rather than
 * fork it:
 *
 * - long → `number` when it fits in 2^53 (exact), `bigint` otherwise. avsc alone throws past 2^53; silently
 *   rounding would be worse, refusing a valid record is not what users want.
 * - timestamp-millis / timestamp-micros → the underlying long as a `number` (epoch ms / µs). No `Date` allocation on
 *   the hot path; µs timestamps stay exact until the year 2255.
 * - decimal (bytes or fixed) → a `string` in plain decimal notation ("-12.3400"): exact, JSON-safe, and what CQL's
 *   `decimal` accepts. uuid → its string.
 * - unions: the branch's value itself (`["null","string"]` reads as null or a string). A union whose branches
 *   JavaScript cannot tell apart (long and double, two records, a map and a record) reads wrapped,
 *   `{ "<branch name>": value }` as Avro's JSON encoding writes it (avsc's `wrapUnions: 'auto'`): such unions are
 *   legal Avro, and refusing their schema would make every record of the topic poison.
 * - arrays and maps: a block count is checked against the bytes left before anything is allocated, so a corrupt
 *   or hostile length prefix is refused instead of looping or allocating without bound (avsc trusts it).
 */

/** avsc's internal byte cursor (not in its typings): the hot path reads it directly. */
/** Node's Buffer has `utf8Slice` (what `toString('utf8')` calls, minus argument checks); its typings omit it. */
type NodeBuffer = Buffer & { utf8Slice(start: number, end: number): string };

interface Tap {
  buf: NodeBuffer;
  pos: number;
  _invalidate(): void;
  readLong(): number;
  skipLong(): void;
  skipString(): void;
  writeLong(n: number): void;
}

/** Hidden avsc type internals we override (documented in avsc's source as the extension surface). */
interface TypeInternals {
  _read(tap: Tap): unknown;
  _skip(tap: Tap): void;
  _write(tap: Tap, value: unknown): void;
  _check(value: unknown, flags?: unknown, hook?: (value: unknown, type: avro.Type) => void): boolean;
  _update(resolver: ResolverInternals, type: avro.Type, opts?: unknown): void;
}
interface ResolverInternals {
  _read: ((tap: Tap) => unknown) | null;
}

/**
 * The fewest bytes one item of a guarded array or map takes, by the type or resolver that reads it. A side table
 * because avsc freezes its type instances; a resolver reads the writer's bytes, so it gets the writer's figure.
 */
const minItemBytes = new WeakMap<object, number>();

/** Zero-byte items (null, empty records) cost nothing to encode, so their count is capped outright. */
export const MAX_ZERO_BYTE_ITEMS = 1_000_000;

const TWO_63 = 1n << 63n;

/** The fewest bytes one value of `type` takes in Avro binary: bounds how many items the remaining bytes can hold. */
export function minEncodedBytes(type: avro.Type, seen = new Set<avro.Type>()): number {
  if (seen.has(type)) return 1; // recursive record: at least its first field
  switch (type.typeName) {
    case 'null':
      return 0;
    case 'float':
      return 4;
    case 'double':
      return 8;
    case 'fixed':
      return (type as avro.types.FixedType).size;
    case 'record':
    case 'error': {
      seen.add(type);
      const sum = (type as avro.types.RecordType).fields.reduce(
        (total, field) => total + minEncodedBytes(field.type, seen),
        0,
      );
      seen.delete(type);
      return sum;
    }
    default:
      if (type instanceof types.LogicalType) return minEncodedBytes(type.underlyingType, seen);
      // boolean, int, long, bytes, string, enum, array, map, union: at least one byte (a varint or a byte).
      return 1;
  }
}

function refuseCount(count: number, tap: Tap, minBytes: number): void {
  const left = tap.buf.length - tap.pos;
  const limit = minBytes === 0 ? MAX_ZERO_BYTE_ITEMS : Math.floor(left / minBytes);
  if (count > limit) {
    throw new CodecError(
      'CODEC_INVALID_DATA',
      `a block claims ${count} items but only ${left} bytes are left (at byte ${tap.pos})`,
    );
  }
}

function readBlockCount(tap: Tap, minBytes: number): number {
  let n = tap.readLong();
  if (n < 0) {
    n = -n;
    tap.skipLong(); // block size in bytes, unused when reading item by item
  }
  if (n > 0) refuseCount(n, tap, minBytes);
  return n;
}

const ArrayBase = types.ArrayType as unknown as new (schema: avro.Schema, opts: unknown) => avro.types.ArrayType;
const MapBase = types.MapType as unknown as new (schema: avro.Schema, opts: unknown) => avro.types.MapType;

/**
 * The item size of a guarded array or map, learned on its first read: in a recursive schema the item record is still
 * being defined (its fields unknown) when the array's constructor runs. A resolver's figure is set by `_update`.
 */
function learnMinItemBytes(reader: object, itemType: avro.Type, keyBytes: number): number {
  const min = keyBytes + minEncodedBytes(itemType);
  minItemBytes.set(reader, min);
  return min;
}

class GuardedArrayType extends ArrayBase {
  _read(this: { itemsType: TypeInternals }, tap: Tap): unknown[] {
    const items = this.itemsType;
    const min = minItemBytes.get(this) ?? learnMinItemBytes(this, items as unknown as avro.Type, 0);
    let n = readBlockCount(tap, min);
    if (n === 0) return [];
    // Sized by the first block (usually the only one), as avsc does: no growth copies. The count is bounded above.
    const out: unknown[] = new Array(n);
    let i = 0;
    while (n) {
      while (n--) out[i++] = items._read(tap);
      n = readBlockCount(tap, min);
    }
    return out;
  }

  /**
   * Skipping (a writer's field the reader drops) loops on the claimed count too: avsc's own `_skip` trusts it, and
   * a record claiming 2^50 items in a dropped field kept the event loop busy forever (found by `npm run fuzz`).
   */
  _skip(this: { itemsType: TypeInternals }, tap: Tap): void {
    const items = this.itemsType;
    const min = minItemBytes.get(this) ?? learnMinItemBytes(this, items as unknown as avro.Type, 0);
    for (let n = readBlockCount(tap, min); n; n = readBlockCount(tap, min)) while (n--) items._skip(tap);
  }

  _update(resolver: ResolverInternals, type: avro.Type, opts: unknown): void {
    (ArrayBase.prototype as unknown as TypeInternals)._update.call(this, resolver, type, opts);
    // Reading through a resolver walks the writer's bytes: bound by the writer's item size.
    if (type.typeName === 'array') learnMinItemBytes(resolver, (type as avro.types.ArrayType).itemsType, 0);
  }
}

/** A map entry's key is a string: at least its length byte. */
const MAP_KEY_MIN_BYTES = 1;

class GuardedMapType extends MapBase {
  _read(this: { valuesType: TypeInternals }, tap: Tap): Record<string, unknown> {
    const values = this.valuesType;
    const min = minItemBytes.get(this) ?? learnMinItemBytes(this, values as unknown as avro.Type, MAP_KEY_MIN_BYTES);
    const out: Record<string, unknown> = {};
    let n = readBlockCount(tap, min);
    while (n) {
      while (n--) {
        const key = readString(tap) as string; // undefined only when truncated: the record is refused anyway
        out[key] = values._read(tap);
      }
      n = readBlockCount(tap, min);
    }
    return out;
  }

  /** As the array's: bounded by the bytes left. */
  _skip(this: { valuesType: TypeInternals }, tap: Tap): void {
    const values = this.valuesType;
    const min = minItemBytes.get(this) ?? learnMinItemBytes(this, values as unknown as avro.Type, MAP_KEY_MIN_BYTES);
    for (let n = readBlockCount(tap, min); n; n = readBlockCount(tap, min)) {
      while (n--) {
        tap.skipString();
        values._skip(tap);
      }
    }
  }

  _update(resolver: ResolverInternals, type: avro.Type, opts: unknown): void {
    (MapBase.prototype as unknown as TypeInternals)._update.call(this, resolver, type, opts);
    if (type.typeName === 'map')
      learnMinItemBytes(resolver, (type as avro.types.MapType).valuesType, MAP_KEY_MIN_BYTES);
  }
}

const StringBase = types.StringType as unknown as new () => avro.Type;

/**
 * Short strings repeat across records (countries, tags, map keys, enum-like values, a cookie seen twice in a batch).
 * A small direct-mapped cache of recently decoded short strings, checked byte for byte, returns the same string
 * instead of asking Node to build a new one: fewer native calls and less garbage. Measured on the Navigation bench.
 */
const INTERN_MAX_BYTES = 24;
const INTERN_SLOTS = 4096; // a power of two
const internBytes = new Uint8Array(INTERN_SLOTS * INTERN_MAX_BYTES);
const internLengths = new Int32Array(INTERN_SLOTS).fill(-1);
const internStrings: string[] = new Array(INTERN_SLOTS).fill('');

function internedString(buf: NodeBuffer, pos: number, len: number): string {
  let hash = len;
  for (let i = 0; i < len; i++) hash = (Math.imul(hash, 31) + (buf[pos + i] as number)) | 0;
  const slot = hash & (INTERN_SLOTS - 1);
  const base = slot * INTERN_MAX_BYTES;
  if (internLengths[slot] === len) {
    let same = true;
    for (let i = 0; i < len; i++) {
      if (internBytes[base + i] !== buf[pos + i]) {
        same = false;
        break;
      }
    }
    if (same) return internStrings[slot] as string;
  }
  const value = buf.utf8Slice(pos, pos + len);
  for (let i = 0; i < len; i++) internBytes[base + i] = buf[pos + i] as number;
  internLengths[slot] = len;
  internStrings[slot] = value;
  return value;
}

/** Reads an Avro string at the tap, interning short ones; undefined (tap past its end) when truncated. */
function readString(tap: Tap): string | undefined {
  const len = tap.readLong();
  const pos = tap.pos;
  if (len < 0) {
    tap._invalidate();
    return '';
  }
  tap.pos = pos + len;
  if (tap.pos > tap.buf.length) return undefined; // truncated: the caller sees an invalid tap
  return len <= INTERN_MAX_BYTES ? internedString(tap.buf, pos, len) : tap.buf.utf8Slice(pos, pos + len);
}

class InterningStringType extends StringBase {
  _read(tap: Tap): string | undefined {
    return readString(tap);
  }
}

const LongBase = types.LongType as unknown as new () => avro.types.LongType;

/** Avro long: a number while exact, a bigint beyond ±2^53. */
class ExactLongType extends LongBase {
  _read(tap: Tap): number | bigint {
    // A zigzag varint of at most 7 bytes carries 49 bits: always exact as a double, avsc's fast path.
    const buf = tap.buf;
    const pos = tap.pos;
    for (let i = 0; i < 7; i++) {
      const byte = buf[pos + i];
      if (byte === undefined || (byte & 0x80) === 0) return tap.readLong();
    }
    let zigzag = 0n;
    let shift = 0n;
    let i = pos;
    for (;;) {
      const byte = buf[i++];
      if (byte === undefined) {
        tap.pos = buf.length + 1; // past the end: the caller reports a truncated record
        return 0;
      }
      zigzag |= BigInt(byte & 0x7f) << shift;
      shift += 7n;
      if ((byte & 0x80) === 0) break;
      if (shift > 63n) throw new CodecError('CODEC_INVALID_DATA', `a long varint runs past 10 bytes (at byte ${pos})`);
    }
    tap.pos = i;
    const value = (zigzag >> 1n) ^ -(zigzag & 1n);
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
  }

  _check(value: unknown, _flags?: unknown, hook?: (value: unknown, type: avro.Type) => void): boolean {
    const ok =
      (typeof value === 'number' && Number.isSafeInteger(value)) ||
      (typeof value === 'bigint' && value >= -TWO_63 && value < TWO_63);
    if (!ok && hook) hook(value, this);
    return ok;
  }

  _write(tap: Tap, value: unknown): void {
    if (typeof value === 'number' && Number.isSafeInteger(value)) {
      tap.writeLong(value);
      return;
    }
    if (typeof value !== 'bigint' || !this._check(value)) {
      throw new Error(`invalid long: ${String(value)}`);
    }
    let zigzag = (value << 1n) ^ (value >> 63n);
    zigzag &= (1n << 64n) - 1n;
    while (zigzag >= 0x80n) {
      tap.buf[tap.pos++] = Number(zigzag & 0x7fn) | 0x80;
      zigzag >>= 7n;
    }
    tap.buf[tap.pos++] = Number(zigzag);
  }
}

/** Avro decimal (bytes or fixed, two's complement big-endian unscaled value) as an exact decimal string. */
class DecimalType extends types.LogicalType {
  private readonly scale: number;

  constructor(schema: avro.Schema, opts?: unknown) {
    super(schema, opts);
    const { scale = 0, precision } = schema as { scale?: number; precision?: number };
    if (
      !Number.isInteger(precision) ||
      (precision as number) < 1 ||
      !Number.isInteger(scale) ||
      scale < 0 ||
      scale > (precision as number)
    ) {
      throw new Error(`invalid decimal: precision ${precision}, scale ${scale}`);
    }
    this.scale = scale;
  }

  protected override _fromValue(bytes: Buffer): string {
    let unscaled = 0n;
    for (const byte of bytes) unscaled = (unscaled << 8n) | BigInt(byte);
    if (bytes.length > 0 && (bytes[0] as number) & 0x80) unscaled -= 1n << BigInt(bytes.length * 8);
    const negative = unscaled < 0n;
    const digits = (negative ? -unscaled : unscaled).toString().padStart(this.scale + 1, '0');
    const whole = digits.slice(0, digits.length - this.scale);
    const fraction = this.scale > 0 ? `.${digits.slice(digits.length - this.scale)}` : '';
    return `${negative ? '-' : ''}${whole}${fraction}`;
  }

  protected override _toValue(value: unknown): Buffer | undefined {
    if (typeof value !== 'string' || !/^-?\d+(\.\d+)?$/.test(value)) return undefined;
    const [whole = '', fraction = ''] = value.replace('-', '').split('.');
    if (fraction.length > this.scale) return undefined;
    let unscaled = BigInt(whole + fraction.padEnd(this.scale, '0'));
    if (value.startsWith('-')) unscaled = -unscaled;
    let length = 1;
    while (unscaled >= 1n << BigInt(length * 8 - 1) || unscaled < -(1n << BigInt(length * 8 - 1))) length++;
    const twos = unscaled < 0n ? (1n << BigInt(length * 8)) + unscaled : unscaled;
    return Buffer.from(twos.toString(16).padStart(length * 2, '0'), 'hex');
  }

  protected override _resolve(type: avro.Type): ((value: unknown) => unknown) | undefined {
    if (type instanceof DecimalType && type.scale === this.scale) return (value) => value;
    return undefined;
  }
}

function typeHook(schema: avro.Schema, opts: avro.ForSchemaOptions): avro.Type | undefined {
  if (schema === 'long') return new ExactLongType();
  if (schema === 'string') return new InterningStringType();
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) return undefined;
  const { type, logicalType } = schema as { type?: unknown; logicalType?: unknown };
  // Every logical type on a long (timestamps, times) reads as the long itself.
  if (type === 'long') return new ExactLongType();
  if (type === 'string' && logicalType === undefined) return new InterningStringType();
  if (logicalType !== undefined) return undefined;
  if (type === 'array') return new GuardedArrayType(schema, opts);
  if (type === 'map') return new GuardedMapType(schema, opts);
  return undefined;
}

/**
 * Compiles an Avro schema with this project's value mapping and guards. `registry` holds named types already
 * defined (schema references); it is filled with this schema's named types too.
 */
export function compileSchema(schema: avro.Schema, registry: Record<string, avro.Type> = {}): avro.Type {
  return Type.forSchema(schema, {
    typeHook,
    registry,
    logicalTypes: { decimal: DecimalType },
    // Field values read from records are plain objects, never passed back into avsc methods.
    omitRecordMethods: true,
    wrapUnions: 'auto',
  } as Partial<avro.ForSchemaOptions>);
}
