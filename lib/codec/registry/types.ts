import type { SchemaRef } from '../framing';

/** A writer schema as a registry serves it: the Avro schema text and the named types it references. */
export interface RegisteredSchema {
  /** Avro schema JSON text. */
  schema: string;
  /** Referenced schemas, already resolved, in dependency order (a reference's own references come first). */
  references: { name: string; schema: string }[];
}

/**
 * What the codec needs from a schema registry: fetch a writer schema by the ref a record carries. Rejects with
 * `CodecError('CODEC_SCHEMA_NOT_FOUND' | 'CODEC_UNSUPPORTED_SCHEMA')` when the registry says so (poison) and
 * `RegistryUnavailableError` when it cannot be asked (transient).
 */
export interface SchemaRegistry {
  fetchSchema(ref: SchemaRef): Promise<RegisteredSchema>;
}
