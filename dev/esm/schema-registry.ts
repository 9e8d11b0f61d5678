import { type AvroReader, CodecError, parseFrame, type SchemaMetadata, VALUE_SCHEMA_ID_HEADER } from '../../lib/codec';
import type { SchemaRejection } from '../../ops/kafka/invocation-record';
import type { KafkaRecord } from '../../ops/kafka/msk-event';

/**
 * The event-source mapping's own schema registry integration (provisioned mode, `SchemaRegistryConfig`), as AWS
 * documents it in "Using schema registries with Kafka event sources in Lambda" (lambda/latest/dg/
 * services-consume-kafka-events.html): before invoking, Lambda validates each value against the registry; a record
 * whose schema is not found or whose bytes do not deserialize is not sent to the function but to the mapping's
 * on-failure destination with reason SCHEMA_NOT_FOUND or DESERIALIZATION_ERROR (dropped without one); the others are
 * delivered with `valueSchemaMetadata` `{ dataFormat, schemaId }` and a value in `EventRecordFormat`: SOURCE, the
 * source format "with all schema metadata, such as the schema ID" removed (the Avro body); JSON, "a standard JSON
 * object". AWS does not document how its JSON renders Avro's unions, bytes or longs past 2^53: this emulator writes
 * unions unwrapped (as Avro's Java `GenericData.toString` does), bytes as arrays of byte values and such longs as
 * strings; the functions also read Avro's own JSON encoding (lib/codec/decoder.ts).
 */

export type EventRecordFormat = 'SOURCE' | 'JSON';

/** Why the mapping keeps a record from the function: AWS's reason codes. */
export type MappingDecoded =
  | { record: KafkaRecord; rejected?: undefined }
  | { record: KafkaRecord; rejected: SchemaRejection; message: string };

const NOT_FOUND: ReadonlySet<string> = new Set(['CODEC_SCHEMA_NOT_FOUND', 'CODEC_UNSUPPORTED_SCHEMA']);

/** Plain JSON of a value read with its writer's schema (see above for what AWS leaves undocumented). */
function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'bigint') return v.toString();
    if (v && typeof v === 'object' && (v as { type?: unknown }).type === 'Buffer')
      return (v as { data: number[] }).data;
    return v;
  });
}

/**
 * The records as the mapping delivers them with `format`, each read by `reader` (no reader schema: as its writer
 * wrote it) with the schema its frame named; a tombstone passes
 * as it is. Rejects only when the registry cannot be asked (`RegistryUnavailableError`): the mapping then waits and
 * tries again, invoking nothing meanwhile.
 */
export async function decodeAsMapping(
  records: readonly KafkaRecord[],
  reader: AvroReader,
  format: EventRecordFormat,
): Promise<MappingDecoded[]> {
  const values = await reader.decodeAll(
    records.map((r) => ({
      value: r.value === null ? null : r.value.toString('base64'),
      headers: (r.headers ?? []).map(([name, bytes]) => ({ [name]: [...bytes] })),
    })),
  );
  return records.map((record, i): MappingDecoded => {
    if (record.value === null) return { record };
    const value = values[i];
    if (value instanceof CodecError) {
      return {
        record,
        rejected: NOT_FOUND.has(value.code) ? 'SCHEMA_NOT_FOUND' : 'DESERIALIZATION_ERROR',
        message: value.message,
      };
    }
    const header = record.headers?.find(([name]) => name === VALUE_SCHEMA_ID_HEADER)?.[1];
    const frame = parseFrame(record.value, header);
    const metadata: SchemaMetadata = {
      dataFormat: 'AVRO',
      schemaId: frame.schemaId >= 0 ? String(frame.schemaId) : (frame.schemaUuid as string),
    };
    const body = format === 'SOURCE' ? frame.bytes.subarray(frame.bodyStart) : Buffer.from(toJson(value));
    return {
      record: {
        ...record,
        value: Buffer.from(body),
        // The schema id header is schema metadata too: the mapping removes it with the framing.
        headers: record.headers?.filter(([name]) => name !== VALUE_SCHEMA_ID_HEADER),
        valueSchemaMetadata: metadata,
      },
    };
  });
}
