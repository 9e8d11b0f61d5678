import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEMO_TOPICS, registerDemoSchemas } from '../../../dev/demo/stream';
import { checkSubjects } from '../../../dev/schemas-check';
import { REPO_ROOT } from '../../../dev/stack/config';
import { AvroEncoder, ConfluentSchemaRegistry } from '../../../lib/codec';
import { NAVIGATION_V1 } from '../../../lib/domain/navigation';
import { endpoints, uniqueName } from '../endpoints';

/**
 * The schema compatibility gate (`npm run schemas:check`) against the real registry: the demo's writer versions all
 * resolve into each function's reader; a version registered past the registry's own check (compatibility NONE)
 * that changes a field's type fails the gate, naming the field.
 */
const registry = new ConfluentSchemaRegistry({ urls: [endpoints.registryUrl] });

async function gate(...args: string[]): Promise<{ code: number; stdout: string }> {
  return promisify(execFile)('npx', ['tsx', 'dev/schemas-check.ts', ...args], { cwd: REPO_ROOT }).then(
    ({ stdout }) => ({ code: 0, stdout }),
    (error: { code: number; stdout: string }) => ({ code: error.code, stdout: error.stdout }),
  );
}

const incompatible = `${uniqueName('navigation')}-value`;

beforeAll(async () => {
  await registerDemoSchemas(new AvroEncoder(registry), DEMO_TOPICS);
  const config = await fetch(`${endpoints.registryUrl}/config/${encodeURIComponent(incompatible)}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
    body: JSON.stringify({ compatibility: 'NONE' }),
  });
  expect(config.status).toBe(200);
  await registry.register(incompatible, JSON.stringify(NAVIGATION_V1));
  // A producer turns `url` into a number: legal for a registry set to NONE, poison for every reader.
  const broken = JSON.parse(JSON.stringify(NAVIGATION_V1)) as { fields: { name: string; type: unknown }[] };
  for (const field of broken.fields) if (field.name === 'url') field.type = 'int';
  await registry.register(incompatible, JSON.stringify(broken));
}, 60_000);

describe('npm run schemas:check', () => {
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
    const [check] = await checkSubjects(registry, { 'navigation-enricher': incompatible } as never);
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
