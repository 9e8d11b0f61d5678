import type avro from 'avsc';
import { Tap } from 'avsc/lib/utils';
import { compileSchema } from './avro-types';
import { Type, types } from './avsc';
import { CodecError } from './errors';
import {
  CONFLUENT_V0,
  type Frame,
  frameKey,
  frameRef,
  mappingFrame,
  parseFrame,
  type SchemaMetadata,
  type SchemaRef,
} from './framing';
import type { SchemaCache, WriterSchema } from './schema-cache';

/** MSK record headers: single-key objects whose values are byte arrays. */
export type KafkaHeaders = readonly Record<string, readonly number[]>[];

/** The part of an MSK record the codec reads. */
export interface KafkaValue {
  value?: string | null;
  headers?: KafkaHeaders;
  /** Set when the event-source mapping decoded the record with its own schema registry (see `mappingFrame`). */
  valueSchemaMetadata?: SchemaMetadata | null;
}

/** A record without a value (a Kafka tombstone). */
export const TOMBSTONE: unique symbol = Symbol('tombstone');

/**
 * One record's outcome: its value, `TOMBSTONE`, or the `CodecError` that makes it poison. A bare union rather than
 * a `{ kind, value }` wrapper: one object less per record, measured at 10-20 % of the whole decode on 10,000 records.
 */
export type Decoded<T> = T | typeof TOMBSTONE | CodecError;
export const VALUE_SCHEMA_ID_HEADER = '__value_schema_id';

/** Reads one writer schema into the reader's shape: built once per (writer, reader) pair. */
interface Plan {
  read(tap: Tap): unknown;
  /** The writer's type: a record the mapping delivered as JSON is encoded with it, then read like any other. */
  readonly writer: avro.Type;
  /** False when decoded values can hold views of the input bytes (bytes or fixed fields): the input must be kept. */
  readonly inputReusable: boolean;
}

/** Whether values of `type` can reference the bytes they were read from (avsc returns bytes/fixed as views). */
function holdsInputViews(type: avro.Type): boolean {
  const seen = new Set<avro.Type>();
  const visit = (t: avro.Type): boolean => {
    if (seen.has(t)) return false;
    seen.add(t);
    if (t instanceof types.LogicalType) return false; // converted (decimal → string): no view survives
    switch (t.typeName) {
      case 'bytes':
      case 'fixed':
        return true;
      case 'array':
        return visit((t as avro.types.ArrayType).itemsType);
      case 'map':
        return visit((t as avro.types.MapType).valuesType);
      case 'record':
      case 'error':
        return (t as avro.types.RecordType).fields.some((field) => visit(field.type));
      default:
        return (t as { types?: avro.Type[] }).types?.some(visit) ?? false; // unions
    }
  };
  return visit(type);
}

/** At most 1,024 reusable buffers of at most 16 KiB: 16 MiB in the worst case, a few hundred KiB in practice. */
const EXACT_BUFFER_MAX_BYTES = 16 * 1024;
const EXACT_BUFFER_MAX_COUNT = 1024;

const JSON_OBJECT_START = 0x7b; // '{'
/** `readJson`'s answer for bytes that are not JSON text. */
const NOT_JSON: unique symbol = Symbol('not JSON');

const schemaName = (schema: Frame | number): string => (typeof schema === 'number' ? `id:${schema}` : frameKey(schema));

/** A frame over a copy of its bytes, for a record that outlives the scratch buffer it was read into. */
function ownBytes(frame: Frame): Frame {
  return { ...frame, bytes: Buffer.from(frame.bytes) };
}

function schemaIdHeader(headers: KafkaHeaders | undefined): Buffer | undefined {
  if (headers === undefined) return undefined;
  for (const header of headers) {
    const bytes = header[VALUE_SCHEMA_ID_HEADER];
    if (bytes !== undefined) return Buffer.from(bytes);
  }
  return undefined;
}

/**
 * Decodes framed Avro into one reader schema. Without a reader schema, records are read as their writer wrote them.
 * With one, every writer version is resolved into it (schema evolution) and fields the reader does not name are
 * skipped, not decoded: a processor that reads 5 of 12 fields pays for 5.
 *
 * `decode` is synchronous: the schema must already be in the cache (`decodeAll` loads what is missing first).
 */
export class AvroReader<T = unknown> {
  readonly readerType: avro.Type | undefined;
  /** Plans by Confluent numeric id (the common case: a number key, no string built per record)... */
  private readonly plansById = new Map<number, Plan | CodecError>();
  /** ...and by GUID / Glue version key. */
  private readonly plansByKey = new Map<string, Plan | CodecError>();
  /** avsc's byte cursor, reused for every record instead of one allocated per `Type.decode` call. */
  private readonly tap = new Tap(Buffer.alloc(0), 0);
  private scratch = Buffer.allocUnsafeSlow(64 * 1024);
  private readonly exactBuffers: (Buffer | undefined)[] = [];
  private exactBufferCount = 0;

  constructor(
    private readonly schemas: SchemaCache,
    readerSchema?: avro.Schema | avro.Type,
  ) {
    this.readerType =
      readerSchema === undefined || readerSchema instanceof Type ? readerSchema : compileSchema(readerSchema);
  }

  /**
   * Decodes a batch of Kafka values as Lambda delivers them (base64, MSK headers). A record whose schema is cached
   * is decoded at once, so its bytes die young (holding a whole batch of input buffers costs more in GC than the
   * decoding itself); records naming an unknown schema wait until their schemas load (one registry request per
   * schema, all in parallel), then decode. A bad record becomes a `poison` entry in place; only an unreachable
   * registry rejects (`RegistryUnavailableError`).
   */
  async decodeAll(records: readonly KafkaValue[]): Promise<Decoded<T>[]> {
    const out: Decoded<T>[] = new Array(records.length);
    let waiting: Map<number, Frame> | undefined;
    let missing: Map<string, SchemaRef> | undefined;
    let planned = 0;
    for (let i = 0; i < records.length; i++) {
      const record = records[i] as KafkaValue;
      const value = record.value;
      if (value === undefined || value === null || value === '') {
        out[i] = TOMBSTONE;
        continue;
      }
      const bytes = this.scratchBase64(value);
      const headers = record.headers;
      const metadata = record.valueSchemaMetadata;
      // The common case inline: Confluent v0 with a schema already planned, no Frame object on the way.
      if (
        bytes.length >= 5 &&
        bytes[0] === CONFLUENT_V0 &&
        (headers === undefined || headers.length === 0) &&
        (metadata === undefined || metadata === null)
      ) {
        const id = bytes.readInt32BE(1);
        const known = this.plansById.get(id);
        if (known !== undefined && !(known instanceof CodecError) && known.inputReusable) {
          const result = this.readBody(known, bytes, 5, id);
          out[i] = result as Decoded<T>;
          planned++;
          continue;
        }
      }
      let frame: Frame;
      try {
        frame = metadata ? mappingFrame(bytes, metadata) : parseFrame(bytes, schemaIdHeader(headers));
      } catch (error) {
        out[i] = this.poison(error);
        continue;
      }
      const plan = this.lookup(frame);
      if (plan !== undefined) {
        // A plan whose values may keep views of the input gets bytes of its own, not the scratch buffer.
        out[i] = this.decodeOne(plan instanceof CodecError || plan.inputReusable ? frame : ownBytes(frame));
        planned++;
        continue;
      }
      waiting ??= new Map();
      missing ??= new Map();
      waiting.set(i, ownBytes(frame)); // the scratch is overwritten by the next record
      missing.set(frameKey(frame), frameRef(frame));
    }
    if (waiting !== undefined && missing !== undefined) {
      await this.schemas.load(missing);
      for (const [i, frame] of waiting) out[i] = this.decodeOne(frame);
    }
    this.schemas.countLookups(planned, waiting?.size ?? 0);
    return out;
  }

  /**
   * The record's bytes, decoded from base64 into a buffer reused across records. Measured against
   * `Buffer.from(value, 'base64')` per record, reuse removes an allocation and a batch's worth of short-lived
   * buffers for the GC to trace. A Tap reads to its buffer's end, so a buffer must be exactly the record's length:
   * one is kept per length seen (records of a topic cluster around a few lengths), a bounded number of them, and
   * any other length gets a view of a shared scratch buffer.
   */
  private scratchBase64(value: string): Buffer {
    let pad = 0;
    if (value.charCodeAt(value.length - 1) === 0x3d /* = */) pad = value.charCodeAt(value.length - 2) === 0x3d ? 2 : 1;
    const length = ((value.length * 3) >>> 2) - pad;
    let buf = length <= EXACT_BUFFER_MAX_BYTES ? this.exactBuffers[length] : undefined;
    if (buf === undefined && length <= EXACT_BUFFER_MAX_BYTES && this.exactBufferCount < EXACT_BUFFER_MAX_COUNT) {
      buf = Buffer.allocUnsafeSlow(length);
      this.exactBuffers[length] = buf;
      this.exactBufferCount++;
    }
    // A string that is not clean base64 decodes to fewer bytes than its length promises: take the slow path.
    if (buf !== undefined && buf.write(value, 0, 'base64') === length) return buf;
    const needed = (value.length * 3) >>> 2;
    if (this.scratch.length < needed) this.scratch = Buffer.allocUnsafeSlow(Math.max(needed, this.scratch.length * 2));
    return this.scratch.subarray(0, this.scratch.write(value, 0, 'base64'));
  }

  private decodeOne(frame: Frame): Decoded<T> {
    return this.read(frame) as Decoded<T>;
  }

  private poison(error: unknown): CodecError {
    if (error instanceof CodecError) return error;
    throw error;
  }

  /** Decodes one framed record; throws `CodecError` when it is poison. */
  decode(frame: Frame): T {
    const result = this.read(frame);
    if (result instanceof CodecError) throw result;
    return result as T;
  }

  /**
   * The hot path. Poison is returned, not thrown: a throw per bad record would be slow, and a try/catch around
   * the whole decode keeps V8 from inlining it (measured: +1.2 µs per record).
   */
  private read(frame: Frame): unknown {
    const plan = this.lookup(frame) ?? this.plan(frame);
    if (plan instanceof CodecError) return plan;
    if (frame.format === 'mapping' && frame.bytes[frame.bodyStart] === JSON_OBJECT_START) {
      const fromJson = this.readJson(plan, frame);
      if (fromJson !== NOT_JSON) return fromJson;
    }
    return this.readBody(plan, frame.bytes, frame.bodyStart, frame);
  }

  /**
   * A record the mapping delivered as JSON (`EventRecordFormat` JSON). The record does not say which format the
   * mapping used, so it is told apart by its bytes: a JSON object starts with `{` and parses whole, which an Avro body
   * that happens to start with 0x7b does not (it is then read as Avro). AWS documents the value only as "a standard
   * JSON object": plain JSON values are taken, and failing that Avro's own JSON encoding (unions as
   * `{"<branch>": value}`). The value is encoded with the writer's schema and read back through the reader's plan,
   * so schema evolution, skipped fields and every check apply as they do to the binary formats; it costs an encode
   * more per record (`npm run bench:decode`).
   */
  private readJson(plan: Plan, frame: Frame): unknown {
    const text = frame.bytes.toString('utf8', frame.bodyStart);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return NOT_JSON;
    }
    const writer = plan.writer;
    let value: unknown = parsed;
    if (!writer.isValid(parsed)) {
      try {
        value = writer.fromString(text);
      } catch {
        const paths: string[] = [];
        writer.isValid(parsed, { errorHook: (path) => paths.push(path.join('.') || '(the value)') });
        return new CodecError(
          'CODEC_INVALID_DATA',
          `JSON value does not match writer schema ${schemaName(frame)} at ${paths.slice(0, 3).join(', ')}`,
        );
      }
    }
    const body = writer.toBuffer(value);
    return this.readBody(plan, body, 0, frame);
  }

  /** Reads the Avro body in `bytes[start..]` with `plan`; `schema` names the writer schema in error messages. */
  private readBody(plan: Plan, bytes: Buffer, start: number, schema: Frame | number): unknown {
    const tap = this.tap;
    tap.buf = bytes as Tap['buf'];
    tap.pos = start;
    const value = this.readGuarded(plan, tap, schema);
    if (value instanceof CodecError) return value;
    if (tap.pos > bytes.length) {
      return new CodecError(
        'CODEC_TRUNCATED',
        `record ends before its ${schemaName(schema)} value does (${bytes.length - start} body bytes)`,
      );
    }
    if (tap.pos !== bytes.length) {
      return new CodecError(
        'CODEC_TRAILING_BYTES',
        `${bytes.length - tap.pos} bytes left after the ${schemaName(schema)} value`,
      );
    }
    return value;
  }

  private readGuarded(plan: Plan, tap: Tap, schema: Frame | number): unknown {
    try {
      return plan.read(tap);
    } catch (error) {
      if (error instanceof CodecError) return error;
      // avsc throws on an impossible union branch or enum index: the bytes are not this schema's.
      return new CodecError(
        'CODEC_INVALID_DATA',
        `bytes do not match writer schema ${schemaName(schema)}: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
  }

  private lookup(frame: Frame): Plan | CodecError | undefined {
    return frame.schemaId >= 0 ? this.plansById.get(frame.schemaId) : this.plansByKey.get(frameKey(frame));
  }

  private plan(frame: Frame): Plan | CodecError {
    const key = frameKey(frame);
    const writer = this.schemas.get(key);
    // Unloaded schemas get no plan: the schema may load in a later batch.
    if (!writer)
      return this.schemas.failure(key) ?? new CodecError('CODEC_SCHEMA_NOT_FOUND', `schema ${key} is not loaded`);
    const plan = this.resolve(writer);
    if (frame.schemaId >= 0) this.plansById.set(frame.schemaId, plan);
    else this.plansByKey.set(key, plan);
    return plan;
  }

  private resolve(writer: WriterSchema): Plan | CodecError {
    const reader = this.readerType;
    // avsc's per-type readers (`_read`), the same calls its own `decode` makes, minus its per-call allocations.
    type Readable = { _read(tap: Tap): unknown };
    if (reader === undefined) {
      const type = writer.type as unknown as Readable;
      return { read: (tap) => type._read(tap), writer: writer.type, inputReusable: !holdsInputViews(writer.type) };
    }
    try {
      const resolver = reader.createResolver(writer.type) as unknown as Readable;
      return { read: (tap) => resolver._read(tap), writer: writer.type, inputReusable: !holdsInputViews(reader) };
    } catch (error) {
      return new CodecError(
        'CODEC_INCOMPATIBLE_READER',
        `the reader schema cannot read writer schema ${writer.key}: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }
}
