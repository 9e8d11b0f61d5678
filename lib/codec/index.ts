/** The Avro codec: wire-format detection, registry clients with a forever cache, synchronous cached decoding. */
export { compileSchema, MAX_ZERO_BYTE_ITEMS } from './avro-types';
export { type ReaderCompatibility, readerCompatibility } from './compatibility';
export {
  AvroReader,
  type Decoded,
  type KafkaHeaders,
  type KafkaValue,
  TOMBSTONE,
  VALUE_SCHEMA_ID_HEADER,
} from './decoder';
export { AvroEncoder, type SubjectEncoder } from './encoder';
export { CodecError, type PoisonCode, RegistryRequestError, RegistryUnavailableError } from './errors';
export {
  type Frame,
  frameConfluentV0,
  frameConfluentV1,
  frameGlue,
  frameKey,
  MAX_INFLATED_BYTES,
  mappingFrame,
  parseFrame,
  type SchemaMetadata,
  type SchemaRef,
} from './framing';
export { SchemaRegistries } from './registry/by-kind';
export {
  type ConfluentRegistryOptions,
  ConfluentSchemaRegistry,
  parseConfluentRegistryConfig,
} from './registry/confluent';
export { GlueSchemaRegistry } from './registry/glue';
export type { RegisteredSchema, SchemaRegistry } from './registry/types';
export { compileRegistered, SchemaCache, type SchemaCacheStats } from './schema-cache';
