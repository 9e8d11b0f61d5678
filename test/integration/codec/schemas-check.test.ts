import {
  CreateRegistryCommand,
  CreateSchemaCommand,
  GlueClient,
  RegisterSchemaVersionCommand,
} from '@aws-sdk/client-glue';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEMO_TOPICS, registerDemoSchemas } from '../../../dev/demo/stream';
import { NAVIGATION_V1 } from '../../../functions/topics/navigation';
import { AvroEncoder, ConfluentSchemaRegistry } from '../../../lib/codec';
import { checkSources, confluentSubject } from '../../../ops/schemas-check';
import { devCommand } from '../dev-command';
import { awsEmulator, endpoints, uniqueName } from '../endpoints';

/**
 * The schema compatibility gate (`npm run schemas:check`) against the real registry: the demo's writer versions all
 * resolve into each function's reader; a version registered past the registry's own check (compatibility NONE)
 * that changes a field's type fails the gate, naming the field.
 */
const registry = new ConfluentSchemaRegistry({ urls: [endpoints.registryUrl] });

async function gate(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return gateWith({}, '--local', ...args);
}

async function gateWith(
  env: Record<string, string>,
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  return devCommand('ops/schemas-check.ts', args, env);
}

const incompatible = `${uniqueName('navigation')}-value`;
/** A broken writer version: a producer turns `url` into a number. */
function withIntUrl(): string {
  const broken = JSON.parse(JSON.stringify(NAVIGATION_V1)) as { fields: { name: string; type: unknown }[] };
  for (const field of broken.fields) if (field.name === 'url') field.type = 'int';
  return JSON.stringify(broken);
}

beforeAll(async () => {
  await registerDemoSchemas(new AvroEncoder(registry), DEMO_TOPICS);
  const config = await fetch(`${endpoints.registryUrl}/config/${encodeURIComponent(incompatible)}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
    body: JSON.stringify({ compatibility: 'NONE' }),
  });
  expect(config.status).toBe(200);
  await registry.register(incompatible, JSON.stringify(NAVIGATION_V1));
  // Legal for a registry set to NONE, poison for every reader.
  await registry.register(incompatible, withIntUrl());
}, 60_000);

describe('npm run schemas:check', () => {
  it('refuses to guess its registry: naming none is an error, never the local stack by default', async () => {
    const { code, stderr } = await gateWith({ SCHEMA_REGISTRY_URLS: '' });
    expect(code).toBe(1);
    expect(stderr).toContain('npm run schemas:check needs a registry');
    expect(stderr).toContain('--local');
  }, 60_000);

  it("passes on the demo's writer versions, printing each version's fields read, defaulted and ignored", async () => {
    const { code, stdout } = await gate();
    expect(code).toBe(0);
    expect(stdout).toContain('navigation-enricher ← navigation-value');
    expect(stdout).toContain('segment-builder ← navigation-value');
    expect(stdout).toContain('identity-linker ← identity-value');
    expect(stdout).toMatch(/v1 \(id \d+\): ok: read \d+ \(eventId, /);
    expect(stdout).toContain('every registered version resolves');
  }, 60_000);

  it('fails on a version that changes a field type, naming the field and both types', async () => {
    const [check] = await checkSources([confluentSubject(registry, 'navigation-enricher', incompatible)]);
    expect(check?.versions.map((v) => v.problems.length)).toEqual([0, 1]);
    expect(check?.versions[1]?.problems[0]).toMatch(/^url: the reader's "string" cannot read the writer's "int"/);

    const { code, stdout } = await gate('--subject', `navigation-enricher=${incompatible}`);
    expect(code).toBe(1);
    expect(stdout).toMatch(/v2 \(id \d+\): FAIL, records of this version would be poison\n\s+url: /);
    expect(stdout).toContain('some registered versions would be poison');
  }, 60_000);

  it('fails on a subject the registry does not have', async () => {
    const { code, stdout } = await gate('--subject', `identity-linker=${uniqueName('missing')}-value`);
    expect(code).toBe(1);
    expect(stdout).toContain('FAIL:');
  }, 60_000);
});

describe('npm run schemas:check with an AWS Glue Schema Registry (moto)', () => {
  const glue = new GlueClient(awsEmulator);
  const glueRegistry = uniqueName('registry');
  const awsEnv = {
    AWS_REGION: String(awsEmulator.region),
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_ENDPOINT_URL_GLUE: endpoints.awsEndpoint,
  };
  beforeAll(async () => {
    await glue.send(new CreateRegistryCommand({ RegistryName: glueRegistry }));
    for (const [name, versions] of [
      ['navigation-ok', [JSON.stringify(NAVIGATION_V1)]],
      ['navigation-broken', [JSON.stringify(NAVIGATION_V1), withIntUrl()]],
    ] as const) {
      await glue.send(
        new CreateSchemaCommand({
          RegistryId: { RegistryName: glueRegistry },
          SchemaName: name,
          DataFormat: 'AVRO',
          Compatibility: 'NONE',
          SchemaDefinition: versions[0],
        }),
      );
      for (const definition of versions.slice(1))
        await glue.send(
          new RegisterSchemaVersionCommand({
            SchemaId: { RegistryName: glueRegistry, SchemaName: name },
            SchemaDefinition: definition,
          }),
        );
    }
  }, 60_000);

  it('checks every version of the Glue schema named, by version number and version UUID', async () => {
    const { code, stdout } = await gateWith(
      awsEnv,
      '--glue-registry',
      glueRegistry,
      '--glue-schema',
      'navigation-enricher=navigation-ok',
    );
    expect(stdout).toContain(`navigation-enricher ← glue:${glueRegistry}/navigation-ok`);
    expect(stdout).toMatch(/v1 \(id [0-9a-f-]{36}\): ok: read \d+ \(eventId, /);
    expect(code).toBe(0);
  }, 60_000);

  it('fails on a Glue version that changes a field type, naming the field', async () => {
    const { code, stdout } = await gateWith(
      awsEnv,
      '--glue-registry',
      glueRegistry,
      '--glue-schema',
      'segment-builder=navigation-broken',
    );
    expect(stdout).toMatch(/v2 \(id [0-9a-f-]{36}\): FAIL, records of this version would be poison\n\s+url: /);
    expect(code).toBe(1);
  }, 60_000);
});
