import { parseArgs } from 'node:util';
import type avro from 'avsc';
import { READER_SCHEMA as IDENTITY_READER } from '../functions/identity-linker/definition';
import { READER_SCHEMA as NAVIGATION_READER } from '../functions/navigation-enricher/definition';
import { READER_SCHEMA as SEGMENT_READER } from '../functions/segment-builder/definition';
import { loadPipelineConfig } from '../infra/config';
import {
  CodecError,
  ConfluentSchemaRegistry,
  compileRegistered,
  compileSchema,
  parseConfluentRegistryConfig,
  type ReaderCompatibility,
  readerCompatibility,
} from '../lib/codec';
import type { FunctionName } from './build';
import { DEMO_TOPICS } from './demo/stream';
import { loadStackConfig, stackEndpoints } from './stack/config';

/**
 * `npm run schemas:check`: before a deploy (or a producer's schema change), proves each function's reader schema
 * resolves every writer version registered under its topic's subject (`<topic>-value`): a version it cannot read
 * would make every record written with it poison. Prints, per version, the fields read, defaulted and ignored, and
 * exits 1 naming the field and types of any version that would not resolve.
 *
 * Topics: the demo's (`npm start`) by default, or an environment's (`--environment prod`: infra/environments);
 * `--subject navigation-enricher=<subject>` (repeatable) checks only the functions named, against those subjects.
 * Registry: SCHEMA_REGISTRY_URLS (SCHEMA_REGISTRY_BASIC_AUTH "user:secret" or SCHEMA_REGISTRY_BEARER_TOKEN), else
 * the environment's `schemaRegistry.urls`, else the local stack's.
 */
const READERS: Record<FunctionName, avro.Schema> = {
  'identity-linker': IDENTITY_READER,
  'navigation-enricher': NAVIGATION_READER,
  'segment-builder': SEGMENT_READER,
};

export interface VersionCheck extends ReaderCompatibility {
  version: number;
  id: number;
}

export interface SubjectCheck {
  functionName: FunctionName;
  subject: string;
  versions: VersionCheck[];
  /** Set when the subject has no versions or the registry refused it: nothing to read means nothing checked. */
  error?: string;
}

/** Each function's reader against every version of its subject. */
export async function checkSubjects(
  registry: ConfluentSchemaRegistry,
  subjects: Record<FunctionName, string>,
): Promise<SubjectCheck[]> {
  const checks: SubjectCheck[] = [];
  for (const [functionName, subject] of Object.entries(subjects) as [FunctionName, string][]) {
    const reader = compileSchema(READERS[functionName]);
    try {
      const versions = await registry.subjectVersions(subject);
      checks.push({
        functionName,
        subject,
        versions: versions.map(({ version, id, registered }) => {
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
      checks.push({ functionName, subject, versions: [], error: error.message });
    }
  }
  return checks;
}

/** One line per version; true when every version of every subject resolves. */
export function printReport(checks: SubjectCheck[], print: (line: string) => void): boolean {
  let ok = true;
  for (const check of checks) {
    print(`${check.functionName} ← ${check.subject}`);
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

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { environment: { type: 'string' }, subject: { type: 'string', multiple: true } },
  });
  let topics: Record<FunctionName, string>;
  let urls: string[];
  if (values.environment) {
    const config = loadPipelineConfig(values.environment);
    topics = {
      'identity-linker': config.functions['identity-linker'].topic,
      'navigation-enricher': config.functions['navigation-enricher'].topic,
      'segment-builder': config.functions['segment-builder'].topic,
    };
    urls = config.schemaRegistry.urls;
  } else {
    topics = {
      'identity-linker': DEMO_TOPICS.identity,
      'navigation-enricher': DEMO_TOPICS.navigation,
      'segment-builder': DEMO_TOPICS.navigation,
    };
    urls = [stackEndpoints(loadStackConfig()).registryUrl];
  }
  let subjects = Object.fromEntries(Object.entries(topics).map(([fn, topic]) => [fn, `${topic}-value`])) as Record<
    FunctionName,
    string
  >;
  if (values.subject?.length) {
    // Only the named functions, each against the given subject (a topic not yet deployed, a staging subject).
    const chosen: Partial<Record<FunctionName, string>> = {};
    for (const pair of values.subject) {
      const [fn = '', subject = ''] = pair.split(/=(.*)/s);
      if (!(fn in READERS) || !subject) throw new Error(`--subject ${pair}: expected <function>=<subject>`);
      chosen[fn as FunctionName] = subject;
    }
    subjects = chosen as Record<FunctionName, string>;
  }
  const checks = await checkSubjects(registryFrom(process.env, urls), subjects);
  const ok = printReport(checks, (line) => console.log(line));
  console.log(ok ? 'every registered version resolves' : 'some registered versions would be poison');
  return ok ? 0 : 1;
}

if (import.meta.url === `file://${process.argv[1]}`) process.exitCode = await main();
