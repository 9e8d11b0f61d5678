import { CodecError } from '../errors';
import type { SchemaRef } from '../framing';
import type { RegisteredSchema, SchemaRegistry } from './types';

/**
 * Routes each schema reference to the registry that issued it: Confluent ids and GUIDs to the Confluent registry,
 * Glue version UUIDs to Glue. A record framed for a registry this deployment has not configured is poison.
 */
export class SchemaRegistries implements SchemaRegistry {
  constructor(private readonly registries: { confluent?: SchemaRegistry; glue?: SchemaRegistry }) {}

  fetchSchema(ref: SchemaRef): Promise<RegisteredSchema> {
    const registry = ref.kind === 'glue-version' ? this.registries.glue : this.registries.confluent;
    if (registry === undefined) {
      const which = ref.kind === 'glue-version' ? 'AWS Glue' : 'Confluent';
      return Promise.reject(
        new CodecError(
          'CODEC_UNSUPPORTED_SCHEMA',
          `the record is framed for a ${which} registry, and none is configured`,
        ),
      );
    }
    return registry.fetchSchema(ref);
  }
}
