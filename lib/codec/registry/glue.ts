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
    const what = `Glue schema version ${ref.versionId}`;
    return avroOf(await this.getVersion({ SchemaVersionId: ref.versionId }, what), what);
  }

  /**
   * Every version of one schema (`npm run schemas:check`), oldest first: GetSchema's latest version number, then
   * each version by number (a deleted one is skipped). By number rather than ListSchemaVersions: one call per version
   * either way, and it is the call every Glue API implementation serves (moto has no ListSchemaVersions).
   */
  async schemaVersions(
    registryName: string,
    schemaName: string,
  ): Promise<{ version: number; id: string; registered: RegisteredSchema }[]> {
    const what = `Glue schema ${registryName}/${schemaName}`;
    const SchemaId = { RegistryName: registryName, SchemaName: schemaName };
    let latest: number;
    try {
      const { GetSchemaCommand } = await import('@aws-sdk/client-glue');
      const schema = await (await this.glue()).send(new GetSchemaCommand({ SchemaId }));
      latest = schema.LatestSchemaVersion ?? 0;
    } catch (error) {
      throw registryError(error, `${what} (GetSchema)`);
    }
    const out: { version: number; id: string; registered: RegisteredSchema }[] = [];
    for (let version = 1; version <= latest; version++) {
      const label = `${what} v${version}`;
      let response: GetSchemaVersionCommandOutput;
      try {
        response = await this.getVersion({ SchemaId, SchemaVersionNumber: { VersionNumber: version } }, label);
      } catch (error) {
        if (error instanceof CodecError && error.code === 'CODEC_SCHEMA_NOT_FOUND') continue; // deleted
        throw error;
      }
      out.push({ version, id: response.SchemaVersionId ?? '', registered: avroOf(response, label) });
    }
    return out;
  }

  private async glue(): Promise<GlueClient> {
    return typeof this.client === 'function' ? await this.client() : this.client;
  }

  private async getVersion(
    input: import('@aws-sdk/client-glue').GetSchemaVersionCommandInput,
    what: string,
  ): Promise<GetSchemaVersionCommandOutput> {
    try {
      const { GetSchemaVersionCommand } = await import('@aws-sdk/client-glue');
      return await (await this.glue()).send(new GetSchemaVersionCommand(input));
    } catch (error) {
      throw registryError(error, what);
    }
  }
}

/** The SDK's error as the codec's: not found is poison, access denied a refusal, anything else unavailable. */
function registryError(error: unknown, what: string): Error {
  // By name, not instanceof: the SDK module is loaded lazily (and may be the runtime's own copy).
  const name = (error as Error).name;
  if (name === 'EntityNotFoundException' || name === 'InvalidInputException') {
    return new CodecError('CODEC_SCHEMA_NOT_FOUND', `${what} is not in the registry`, { cause: error });
  }
  if (name === 'AccessDeniedException') {
    return new RegistryRequestError(`${what}: access denied`, 403, { cause: error });
  }
  return new RegistryUnavailableError(`${what}: ${(error as Error).message}`, { cause: error });
}

function avroOf(response: GetSchemaVersionCommandOutput, what: string): RegisteredSchema {
  if (response.DataFormat !== 'AVRO') {
    throw new CodecError('CODEC_UNSUPPORTED_SCHEMA', `${what} is ${response.DataFormat}, not AVRO`);
  }
  if (typeof response.SchemaDefinition !== 'string') {
    throw new RegistryRequestError(`${what} came without a definition`, 200);
  }
  return { schema: response.SchemaDefinition, references: [] };
}
