import type { GetSchemaVersionCommandOutput, GlueClient } from '@aws-sdk/client-glue';
import { CodecError, RegistryRequestError, RegistryUnavailableError } from '../errors';
import type { SchemaRef } from '../framing';
import type { RegisteredSchema, SchemaRegistry } from './types';

/**
 * The AWS Glue Schema Registry, asked through the AWS SDK (`GetSchemaVersion` by the schema version UUID a Glue
 * record carries). Retries and timeouts are the SDK client's own (standard retry mode: throttling, 5xx, network);
 * configure them on the client passed in. The SDK module is loaded on the first Glue-framed record, not at cold start
 * (`client` may be a lazy factory, see lib/lazy.ts).
 */
export class GlueSchemaRegistry implements SchemaRegistry {
  constructor(private readonly client: GlueClient | (() => Promise<GlueClient>)) {}

  async fetchSchema(ref: SchemaRef): Promise<RegisteredSchema> {
    if (ref.kind !== 'glue-version') {
      throw new CodecError('CODEC_UNSUPPORTED_SCHEMA', `the Glue registry cannot resolve a ${ref.kind} reference`);
    }
    let response: GetSchemaVersionCommandOutput;
    try {
      const { GetSchemaVersionCommand } = await import('@aws-sdk/client-glue');
      const client = typeof this.client === 'function' ? await this.client() : this.client;
      response = await client.send(new GetSchemaVersionCommand({ SchemaVersionId: ref.versionId }));
    } catch (error) {
      // By name, not instanceof: the SDK module is loaded lazily (and may be the runtime's own copy).
      const name = (error as Error).name;
      if (name === 'EntityNotFoundException' || name === 'InvalidInputException') {
        throw new CodecError('CODEC_SCHEMA_NOT_FOUND', `Glue schema version ${ref.versionId} is not in the registry`, {
          cause: error,
        });
      }
      if (name === 'AccessDeniedException') {
        throw new RegistryRequestError(`Glue GetSchemaVersion ${ref.versionId}: access denied`, 403, { cause: error });
      }
      throw new RegistryUnavailableError(`Glue GetSchemaVersion ${ref.versionId}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    if (response.DataFormat !== 'AVRO') {
      throw new CodecError(
        'CODEC_UNSUPPORTED_SCHEMA',
        `Glue schema version ${ref.versionId} is ${response.DataFormat}, not AVRO`,
      );
    }
    if (typeof response.SchemaDefinition !== 'string') {
      throw new RegistryRequestError(`Glue schema version ${ref.versionId} came without a definition`, 200);
    }
    return { schema: response.SchemaDefinition, references: [] };
  }
}
