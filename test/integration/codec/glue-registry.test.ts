import { CreateRegistryCommand, CreateSchemaCommand, GetSchemaVersionCommand, GlueClient } from '@aws-sdk/client-glue';
import type avro from 'avsc';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  AvroReader,
  CodecError,
  ConfluentSchemaRegistry,
  compileSchema,
  type Decoded,
  frameConfluentV0,
  frameGlue,
  GlueSchemaRegistry,
  RegistryUnavailableError,
  SchemaCache,
  SchemaRegistries,
  TOMBSTONE,
} from '../../../lib/codec';
import { awsEmulator, endpoints, uniqueName } from '../endpoints';

/** The Glue Schema Registry API, served by moto (AWS's APIs without an AWS account), through the real AWS SDK. */

const glue = new GlueClient(awsEmulator);
const codeOf = (d: Decoded<unknown>) => (d instanceof CodecError ? d.code : d === TOMBSTONE ? 'TOMBSTONE' : 'VALUE');

const SCHEMA = {
  type: 'record',
  name: 'IdentityLink',
  namespace: 'com.example.glue',
  fields: [
    { name: 'cookieId', type: 'string' },
    { name: 'userId', type: 'string' },
  ],
} as avro.Schema;

describe('AWS Glue framed records', () => {
  let versionId = '';

  beforeAll(async () => {
    const registryName = uniqueName('registry');
    await glue.send(new CreateRegistryCommand({ RegistryName: registryName }));
    const created = await glue.send(
      new CreateSchemaCommand({
        RegistryId: { RegistryName: registryName },
        SchemaName: uniqueName('identity'),
        DataFormat: 'AVRO',
        Compatibility: 'BACKWARD',
        SchemaDefinition: JSON.stringify(SCHEMA),
      }),
    );
    versionId = created.SchemaVersionId as string;
    const check = await glue.send(new GetSchemaVersionCommand({ SchemaVersionId: versionId }));
    expect(check.DataFormat).toBe('AVRO');
  });

  it('decodes uncompressed and zlib-compressed Glue records by their schema version id', async () => {
    const body = compileSchema(SCHEMA).toBuffer({ cookieId: 'ck-1', userId: 'u-1' });
    const reader = new AvroReader(new SchemaCache(new GlueSchemaRegistry(glue)));
    const decoded = await reader.decodeAll([
      { value: frameGlue(versionId, body).toString('base64') },
      { value: frameGlue(versionId, body, true).toString('base64') },
    ]);
    expect(decoded).toEqual([
      { cookieId: 'ck-1', userId: 'u-1' },
      { cookieId: 'ck-1', userId: 'u-1' },
    ]);
  });

  it('reads Confluent and Glue records in one batch, each from its own registry', async () => {
    const confluent = new ConfluentSchemaRegistry({ urls: [endpoints.registryUrl] });
    const id = await confluent.register(`${uniqueName('mixed')}-value`, JSON.stringify(SCHEMA));
    const body = compileSchema(SCHEMA).toBuffer({ cookieId: 'ck-2', userId: 'u-2' });
    const reader = new AvroReader(
      new SchemaCache(new SchemaRegistries({ confluent, glue: new GlueSchemaRegistry(glue) })),
    );
    const decoded = await reader.decodeAll([
      { value: frameConfluentV0(id, body).toString('base64') },
      { value: frameGlue(versionId, body).toString('base64') },
    ]);
    expect(decoded.map(codeOf)).toEqual(['VALUE', 'VALUE']);
  });

  it('treats an unknown schema version, or a Glue record where no Glue registry is configured, as poison', async () => {
    const body = compileSchema(SCHEMA).toBuffer({ cookieId: 'ck-3', userId: 'u-3' });
    const unknown = frameGlue('00000000-0000-4000-8000-000000000000', body).toString('base64');
    const withGlue = new AvroReader(new SchemaCache(new GlueSchemaRegistry(glue)));
    expect((await withGlue.decodeAll([{ value: unknown }])).map(codeOf)).toEqual(['CODEC_SCHEMA_NOT_FOUND']);
    const withoutGlue = new AvroReader(new SchemaCache(new SchemaRegistries({})));
    expect(
      (await withoutGlue.decodeAll([{ value: frameGlue(versionId, body).toString('base64') }])).map(codeOf),
    ).toEqual(['CODEC_UNSUPPORTED_SCHEMA']);
  });

  it('rejects the batch as transient when the Glue endpoint cannot be reached', async () => {
    const unreachable = new GlueClient({
      ...awsEmulator,
      endpoint: 'http://127.0.0.1:1',
      maxAttempts: 2,
    });
    const body = compileSchema(SCHEMA).toBuffer({ cookieId: 'ck-4', userId: 'u-4' });
    const reader = new AvroReader(new SchemaCache(new GlueSchemaRegistry(unreachable)));
    const error = await reader
      .decodeAll([{ value: frameGlue(versionId, body).toString('base64') }])
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistryUnavailableError);
  });
});
