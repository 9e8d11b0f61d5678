import { parseArgs } from 'node:util';
import { CATALOG, catalogEntry, type FunctionName, isFunctionName } from '../functions/catalog';
import { loadPipelineConfig } from '../infra/config';
import {
  CodecError,
  ConfluentSchemaRegistry,
  compileRegistered,
  compileSchema,
  GlueSchemaRegistry,
  parseConfluentRegistryConfig,
  type ReaderCompatibility,
  type RegisteredSchema,
  readerCompatibility,
} from '../lib/codec';
import { ConfigError } from '../lib/errors';
import { lazy } from '../lib/lazy';

/**
 * `npm run schemas:check`: before a deploy (or a producer's schema change), proves each function's reader schema
 * resolves every writer version registered under its topic's subject (`<topic>-value`): a version it cannot read
 * would make every record written with it poison. Prints, per version, the fields read, defaulted and ignored, and
 * exits 1 naming the field and types of any version that would not resolve.
 *
 * Topics: each function's in functions/catalog.ts (the local stack's) by default, or an environment's (`--environment prod`: infra/environments);
 * `--subject navigation-enricher=<subject>` and `--glue-schema navigation-enricher=<schema>` (repeatable) check
 * only what they name. Confluent-API registry: SCHEMA_REGISTRY_URLS (SCHEMA_REGISTRY_BASIC_AUTH "user:secret" or
 * SCHEMA_REGISTRY_BEARER_TOKEN), else the environment's `schemaRegistry.urls`, or the local stack's with `--local`
 * (naming no registry at all is an error, ops/target.ts says why). AWS Glue
 * Schema Registry: `--glue-registry <name>` or the environment's `glueRegistryArn`; each function's schema is named
 * after its topic (the Glue serializer's default), through the AWS SDK's usual configuration (AWS_REGION...).
 */

export interface VersionCheck extends ReaderCompatibility {
  version: number;
  /** The registry's id of the version: a number (Confluent) or a schema version UUID (Glue). */
  id: number | string;
}

/** Where a function's writer versions come from: a Confluent subject, or a schema of a Glue registry. */
export interface VersionSource {
  functionName: FunctionName;
  /** What the report names: `navigation-value`, or `glue:<registry>/<schema>`. */
  label: string;
  versions(): Promise<{ version: number; id: number | string; registered: RegisteredSchema }[]>;
}

export const confluentSubject = (
  registry: ConfluentSchemaRegistry,
  functionName: FunctionName,
  subject: string,
): VersionSource => ({ functionName, label: subject, versions: () => registry.subjectVersions(subject) });

export const glueSchema = (
  registry: GlueSchemaRegistry,
  functionName: FunctionName,
  registryName: string,
  schemaName: string,
): VersionSource => ({
  functionName,
  label: `glue:${registryName}/${schemaName}`,
  versions: () => registry.schemaVersions(registryName, schemaName),
});

export interface SubjectCheck {
  functionName: FunctionName;
  label: string;
  versions: VersionCheck[];
  /** Set when the subject has no versions or the registry refused it: nothing to read means nothing checked. */
  error?: string;
}

/** Each function's reader against every version of its sources. */
export async function checkSources(sources: readonly VersionSource[]): Promise<SubjectCheck[]> {
  const checks: SubjectCheck[] = [];
  for (const { functionName, label, versions } of sources) {
    const reader = compileSchema(catalogEntry(functionName).readerSchema);
    try {
      const registered = await versions();
      if (registered.length === 0) throw new CodecError('CODEC_SCHEMA_NOT_FOUND', `${label} has no versions`);
      checks.push({
        functionName,
        label,
        versions: registered.map(({ version, id, registered }) => {
          try {
            return { version, id, ...readerCompatibility(reader, compileRegistered(registered)) };
          } catch (error) {
            const problem = `the writer schema does not compile: ${(error as Error).message}`;
            return { version, id, read: [], defaulted: [], ignored: [], problems: [problem] };
          }
        }),
      });
    } catch (error) {
      if (!(error instanceof CodecError)) throw error; // unreachable registry: not a verdict on the schemas
      checks.push({ functionName, label, versions: [], error: error.message });
    }
  }
  return checks;
}

/** One line per version; true when every version of every subject resolves. */
export function printReport(checks: SubjectCheck[], print: (line: string) => void): boolean {
  let ok = true;
  for (const check of checks) {
    print(`${check.functionName} ← ${check.label}`);
    if (check.error) {
      ok = false;
      print(`  FAIL: ${check.error}`);
      continue;
    }
    for (const v of check.versions) {
      const head = `  v${v.version} (id ${v.id}):`;
      if (v.problems.length > 0) {
        ok = false;
        print(`${head} FAIL, records of this version would be poison`);
        for (const problem of v.problems) print(`      ${problem}`);
        continue;
      }
      const part = (label: string, fields: string[]) =>
        fields.length ? `${label} ${fields.length} (${fields.join(', ')})` : `${label} 0`;
      print(`${head} ok: ${part('read', v.read)}; ${part('defaulted', v.defaulted)}; ${part('ignored', v.ignored)}`);
    }
  }
  return ok;
}

/** The registry SCHEMA_REGISTRY_* name, as the functions read it; `fallbackUrls` when they name none. */
function registryFrom(env: NodeJS.ProcessEnv, fallbackUrls: string[]): ConfluentSchemaRegistry {
  return new ConfluentSchemaRegistry(
    parseConfluentRegistryConfig({ SCHEMA_REGISTRY_URLS: fallbackUrls.join(','), ...env }) ?? { urls: fallbackUrls },
  );
}

/** `<function>=<name>` pairs of a repeated option. */
function pairs(option: string, values: string[] | undefined): [FunctionName, string][] {
  return (values ?? []).map((pair) => {
    const [fn = '', name = ''] = pair.split(/=(.*)/s);
    if (!isFunctionName(fn) || !name) throw new Error(`--${option} ${pair}: expected <function>=<name>`);
    return [fn as FunctionName, name];
  });
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      environment: { type: 'string' },
      subject: { type: 'string', multiple: true },
      'glue-registry': { type: 'string' },
      'glue-schema': { type: 'string', multiple: true },
      local: { type: 'boolean' },
    },
  });
  let topics: [FunctionName, string][];
  let urls: string[];
  let glueRegistry = values['glue-registry'];
  if (values.environment) {
    const config = loadPipelineConfig(values.environment);
    topics = CATALOG.map(({ name }) => [name, config.functions[name].topic]);
    urls = config.schemaRegistry.urls;
    // arn:aws:glue:<region>:<account>:registry/<name>
    glueRegistry ??= config.schemaRegistry.glueRegistryArn?.split('/').pop();
  } else {
    topics = CATALOG.map(({ name, topic }) => [name, topic]);
    // Loaded only for --local: the gate never needs the local world to reach a deployed registry.
    if (values.local) {
      const { loadStackConfig, stackEndpoints } = await import('../dev/stack/config');
      urls = [stackEndpoints(loadStackConfig()).registryUrl];
    } else urls = [];
  }
  const named = [...pairs('subject', values.subject), ...pairs('glue-schema', values['glue-schema'])];
  const sources: VersionSource[] = [];
  const confluent = urls.length > 0 || process.env.SCHEMA_REGISTRY_URLS ? registryFrom(process.env, urls) : undefined;
  const glue = glueRegistry
    ? new GlueSchemaRegistry(lazy(async () => new (await import('@aws-sdk/client-glue')).GlueClient({})))
    : undefined;
  if (!confluent && !glue)
    throw new ConfigError(
      'SCHEMA_REGISTRY_URLS',
      'npm run schemas:check needs a registry: --environment <name>, SCHEMA_REGISTRY_URLS, --glue-registry or --local',
    );
  if (named.length > 0) {
    // Only what is named: a topic not yet deployed, a staging subject.
    for (const [fn, subject] of pairs('subject', values.subject)) {
      if (!confluent) throw new Error('--subject needs a Confluent-API registry (SCHEMA_REGISTRY_URLS)');
      sources.push(confluentSubject(confluent, fn, subject));
    }
    for (const [fn, schema] of pairs('glue-schema', values['glue-schema'])) {
      if (!glue || !glueRegistry) throw new Error('--glue-schema needs --glue-registry');
      sources.push(glueSchema(glue, fn, glueRegistry, schema));
    }
  } else {
    for (const [fn, topic] of topics) {
      if (confluent) sources.push(confluentSubject(confluent, fn, `${topic}-value`));
      // The AWS Glue Schema Registry serializer names a topic's schema after the topic by default.
      if (glue && glueRegistry) sources.push(glueSchema(glue, fn, glueRegistry, topic));
    }
  }
  const checks = await checkSources(sources);
  const ok = printReport(checks, (line) => console.log(line));
  console.log(ok ? 'every registered version resolves' : 'some registered versions would be poison');
  return ok ? 0 : 1;
}

if (import.meta.url === `file://${process.argv[1]}`) process.exitCode = await main();
