import { deflateSync, inflateSync } from 'node:zlib';
import { CodecError } from './errors';

/**
 * Wire formats of a Kafka value (see docs/architecture.md):
 * - Confluent v0: 0x00, int32 BE schema id, Avro.
 * - Confluent v1: 0x01, 16-byte schema GUID, Avro.
 * - Confluent header ids: the value is bare Avro and the `__value_schema_id` (or `__key_schema_id`) header carries
 *   the v0 or v1 prefix. A header, when present, wins: the value then has no prefix of its own.
 * - AWS Glue: 0x03, compression byte (0 none, 5 zlib), 16-byte schema version UUID, Avro (deflated when 5).
 * - Decoded by the event-source mapping's own schema registry integration: the framing removed, the schema named by
 *   the record's `valueSchemaMetadata` (see `mappingFrame`).
 */

/** Which schema a record names: the registry's key for it, immutable once assigned. */
export type SchemaRef =
  | { readonly kind: 'confluent-id'; readonly id: number }
  | { readonly kind: 'confluent-guid'; readonly guid: string }
  | { readonly kind: 'glue-version'; readonly versionId: string };

/**
 * A record's header, split from its Avro body. Flat and small on purpose: one is made per record on the hot path,
 * and a numeric Confluent id is compared as a number, never turned into a string.
 */
export interface Frame {
  readonly format: 'confluent-v0' | 'confluent-v1' | 'confluent-header' | 'glue' | 'mapping';
  /** The Confluent schema id, or -1 when the schema is named by a GUID or a Glue version UUID. */
  readonly schemaId: number;
  /** The Confluent GUID or the Glue schema version id, when the schema is named that way. */
  readonly schemaUuid: string | undefined;
  /** The bytes holding the Avro body, from `bodyStart` to the end (the input itself, or inflated bytes). */
  readonly bytes: Buffer;
  readonly bodyStart: number;
}

export const CONFLUENT_V0 = 0x00;
export const CONFLUENT_V1 = 0x01;
export const GLUE_HEADER_VERSION = 0x03;
const GLUE_NO_COMPRESSION = 0x00;
const GLUE_ZLIB = 0x05;
/** Kafka's default max message size is 1 MiB; a record inflating past 16 MiB is refused, not allocated. */
export const MAX_INFLATED_BYTES = 16 * 1024 * 1024;

export const refKey = (ref: SchemaRef): string =>
  ref.kind === 'confluent-id'
    ? `id:${ref.id}`
    : ref.kind === 'confluent-guid'
      ? `guid:${ref.guid}`
      : `glue:${ref.versionId}`;

/** The schema a frame names, as registries look it up. */
export function frameRef(frame: Frame): SchemaRef {
  if (frame.schemaId >= 0) return { kind: 'confluent-id', id: frame.schemaId };
  // A mapping names a schema by UUID only when its registry is Glue.
  return frame.format === 'glue' || frame.format === 'mapping'
    ? { kind: 'glue-version', versionId: frame.schemaUuid as string }
    : { kind: 'confluent-guid', guid: frame.schemaUuid as string };
}

export const frameKey = (frame: Frame): string => refKey(frameRef(frame));

export function formatUuid(bytes: Buffer, at: number): string {
  const hex = bytes.toString('hex', at, at + 16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function need(bytes: Buffer, length: number, what: string) {
  if (bytes.length < length) {
    throw new CodecError('CODEC_SHORT_HEADER', `${what} needs ${length} header bytes, the value has ${bytes.length}`);
  }
}

function frame(
  format: Frame['format'],
  schemaId: number,
  schemaUuid: string | undefined,
  bytes: Buffer,
  bodyStart: number,
): Frame {
  return { format, schemaId, schemaUuid, bytes, bodyStart };
}

/** Reads a Confluent prefix (v0 or v1) at the start of `prefix`, for a body held in `bytes` from `bodyStart`. */
function confluent(
  prefix: Buffer,
  where: string,
  bytes: Buffer,
  bodyStart: (prefixLength: number) => number,
  header: boolean,
): Frame {
  if (prefix.length === 0) throw new CodecError('CODEC_EMPTY_VALUE', `${where} is empty`);
  const magic = prefix[0];
  if (magic === CONFLUENT_V0) {
    need(prefix, 5, `Confluent v0 ${where}`);
    return frame(header ? 'confluent-header' : 'confluent-v0', prefix.readInt32BE(1), undefined, bytes, bodyStart(5));
  }
  if (magic === CONFLUENT_V1) {
    need(prefix, 17, `Confluent v1 ${where}`);
    return frame(header ? 'confluent-header' : 'confluent-v1', -1, formatUuid(prefix, 1), bytes, bodyStart(17));
  }
  throw new CodecError(
    'CODEC_UNKNOWN_MAGIC',
    `${where} starts with 0x${magic?.toString(16).padStart(2, '0')}, not a known wire format`,
  );
}

/**
 * Detects the wire format of `bytes` and splits off its header. `schemaIdHeader` is the value of the
 * `__value_schema_id` (or `__key_schema_id`) record header when the record has one.
 */
export function parseFrame(bytes: Buffer, schemaIdHeader?: Buffer, maxInflatedBytes = MAX_INFLATED_BYTES): Frame {
  if (schemaIdHeader !== undefined) return confluent(schemaIdHeader, 'schema id header', bytes, () => 0, true);
  if (bytes.length === 0) throw new CodecError('CODEC_EMPTY_VALUE', 'the value is empty');
  if (bytes[0] === GLUE_HEADER_VERSION) {
    need(bytes, 18, 'AWS Glue value');
    const compression = bytes[1];
    const versionId = formatUuid(bytes, 2);
    if (compression === GLUE_NO_COMPRESSION) return frame('glue', -1, versionId, bytes, 18);
    if (compression === GLUE_ZLIB) {
      try {
        // Bounded: a small deflated body must not inflate into an unbounded allocation (a zip bomb).
        return frame('glue', -1, versionId, inflateSync(bytes.subarray(18), { maxOutputLength: maxInflatedBytes }), 0);
      } catch (cause) {
        throw new CodecError(
          'CODEC_DECOMPRESSION_FAILED',
          `AWS Glue value: zlib body does not inflate within ${maxInflatedBytes} bytes`,
          { cause },
        );
      }
    }
    throw new CodecError('CODEC_UNKNOWN_MAGIC', `AWS Glue value: unknown compression byte ${compression}`);
  }
  return confluent(bytes, 'the value', bytes, (length) => length, false);
}

/** Confluent v0 framing: what a Confluent serializer writes for schema `id`. */
export function frameConfluentV0(id: number, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(5 + body.length);
  out[0] = CONFLUENT_V0;
  out.writeInt32BE(id, 1);
  body.copy(out, 5);
  return out;
}

/**
 * The schema metadata Lambda adds to a record its event-source mapping validated against a schema registry
 * (provisioned mode, `SchemaRegistryConfig`): AWS, "Using schema registries with Kafka event sources in Lambda".
 */
export interface SchemaMetadata {
  /** `AVRO`, `PROTOBUF` or `JSON` (JSON Schema): the format the registry holds the schema in. */
  readonly dataFormat: string;
  /** A Confluent registry's schema id (digits), or a Glue schema version id (a UUID). */
  readonly schemaId: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * A record the mapping already validated: with `EventRecordFormat` SOURCE its value is the Avro body with the framing
 * (and so the schema id) removed, with JSON it is the record as JSON text; either way the schema is the one
 * `valueSchemaMetadata` names. A Confluent mapping names schemas by numeric id, a Glue one by schema version UUID;
 * anything else, or a schema that is not Avro, is poison for this Avro codec.
 */
export function mappingFrame(bytes: Buffer, metadata: SchemaMetadata): Frame {
  if (metadata.dataFormat !== 'AVRO') {
    throw new CodecError(
      'CODEC_UNSUPPORTED_SCHEMA',
      `the event-source mapping decoded this record as ${String(metadata.dataFormat)}; this function reads Avro`,
    );
  }
  const id = String(metadata.schemaId);
  if (/^\d{1,10}$/.test(id) && Number(id) <= 0x7fffffff) return frame('mapping', Number(id), undefined, bytes, 0);
  // Confluent's GUIDs are UUIDs too, but AWS documents the mapping's Confluent integration by schema id only.
  if (UUID.test(id)) return frame('mapping', -1, id.toLowerCase(), bytes, 0);
  throw new CodecError(
    'CODEC_UNSUPPORTED_SCHEMA',
    `valueSchemaMetadata.schemaId ${JSON.stringify(id).slice(0, 80)} is neither a Confluent schema id nor a Glue schema version id`,
  );
}

/** Confluent v1 framing: 0x01 and the schema's GUID. */
export function frameConfluentV1(guid: string, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([CONFLUENT_V1]), uuidBytes(guid), body]);
}

/** AWS Glue framing, as the Glue Schema Registry serde writes it (optionally zlib-compressed). */
export function frameGlue(versionId: string, body: Buffer, compress = false): Buffer {
  const header = Buffer.from([GLUE_HEADER_VERSION, compress ? GLUE_ZLIB : GLUE_NO_COMPRESSION]);
  return Buffer.concat([header, uuidBytes(versionId), compress ? deflateSync(body) : body]);
}

function uuidBytes(uuid: string): Buffer {
  const hex = uuid.replace(/-/g, '');
  if (!/^[0-9a-f]{32}$/i.test(hex)) throw new RangeError(`not a UUID: ${uuid}`);
  return Buffer.from(hex, 'hex');
}
