import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { REPO_ROOT } from '../infra/repo-root';

/**
 * `npm run new -- <name> --topic <topic>`: a new processor in `functions/<name>/`, registered in
 * functions/catalog.ts, and nothing else touched. It passes its own test at once (against the local stack), deploys
 * with `cdk deploy` (an environment that does not name it gives it its catalog topic and the defaults), and is what a
 * team edits into its own: the reader schema, the table, the statement and `process`.
 *
 * Written by hand rather than with a template engine: five small files whose only variables are four spellings of
 * the name, and the catalog edit must be exact.
 */

export interface NewFunction {
  name: string;
  topic: string;
}

const NAME = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;
const TOPIC = /^[A-Za-z0-9._-]{1,249}$/;

/** The four spellings: `page-views`, `pageViews`, `PageViews`, `page_views`. */
function spellings(name: string) {
  const words = name.split('-');
  const pascal = words.map((w) => (w[0] ?? '').toUpperCase() + w.slice(1)).join('');
  return { camel: (pascal[0] ?? '').toLowerCase() + pascal.slice(1), pascal, snake: words.join('_') };
}

export function scaffoldFiles({ name, topic }: NewFunction): Record<string, string> {
  const { camel, pascal, snake } = spellings(name);
  return {
    'definition.ts': `import type avro from 'avsc';
import {
  type Env,
  type ProcessorDefinition,
  requireEventTime,
  statement,
  ValidationError,
  writeTimestamp,
} from '../../lib/runtime';

/**
 * ${name} (topic \`${topic}\`): stores each event in \`${snake}\` by id, the newest event winning (its event time is the
 * write time, so a replay or a late duplicate never overwrites a newer row). Scaffolded by \`npm run new\`: make the
 * schema, the table (migrations.ts), the statement and \`process\` your topic's.
 */
export const READER_SCHEMA: avro.Schema = {
  type: 'record',
  name: '${pascal}Event',
  namespace: 'com.example.events',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'eventTime', type: 'long', doc: 'epoch milliseconds' },
    { name: 'payload', type: ['null', 'string'], default: null },
  ],
} as avro.Schema;

export interface ${pascal}Event {
  id: string;
  eventTime: number;
  payload: string | null;
}

const UPSERT = statement('${snake}.upsert', 'INSERT INTO ${snake} (id, event_time, payload) VALUES (?, ?, ?)', {
  idempotent: true,
});

export const ${camel}: ProcessorDefinition<${pascal}Event> = {
  name: '${name}',
  process(event, record) {
    if (!event.id) throw new ValidationError('an event needs an id');
    const eventTime = requireEventTime(event.eventTime);
    return [
      {
        statement: UPSERT,
        params: [event.id, new Date(eventTime), event.payload],
        orderKey: event.id,
        timestamp: writeTimestamp(eventTime, record.offset),
      },
    ];
  },
};

/** The definition as its handler builds it; read settings of your own from \`env\` here (once, at cold start). */
export function fromEnvironment(_env: Env): ProcessorDefinition<${pascal}Event> {
  return ${camel};
}
`,
    'handler.ts': `import { composeProcessor } from '../../lib/runtime';
import { fromEnvironment, READER_SCHEMA } from './definition';

export const handler = composeProcessor(fromEnvironment(process.env), READER_SCHEMA, process.env);
`,
    'migrations.ts': `import type { Migration } from '../../lib/runtime';

/** ${name}'s tables (\`npm run migrate\` applies them; versions are this function's own). */
export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: '${snake}',
    statements: ['CREATE TABLE IF NOT EXISTS {ks}.${snake} (id text PRIMARY KEY, event_time timestamp, payload text)'],
  },
];
`,
    [`${name}.test.ts`]: `import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composeProcessor } from '../../lib/runtime';
import { type FunctionTestKit, functionTestKit } from '../../test/integration/function-kit';
import { ${camel}, READER_SCHEMA } from './definition';

/** ${name} composed as its Lambda handler is, against the local stack (a keyspace of this test's own). */
let kit: FunctionTestKit;
beforeAll(async () => {
  kit = await functionTestKit();
});
afterAll(() => kit.close());

describe('${name}', () => {
  it('stores each event, the newest per id winning, and dead-letters what it cannot read', async () => {
    const t = Date.UTC(2026, 0, 1);
    const records = await kit.records('${topic}', READER_SCHEMA, [
      { id: 'a', eventTime: t + 1, payload: 'newer' },
      { id: 'b', eventTime: t, payload: null },
      { id: 'a', eventTime: t, payload: 'older, arrived late' },
      Buffer.from([0x09, 1, 2]),
      { id: '', eventTime: t, payload: null },
    ]);
    const handler = composeProcessor(${camel}, READER_SCHEMA, kit.environment());

    expect(await handler(kit.mskEvent(records))).toEqual({ batchItemFailures: [] });
    const rows = await kit.rows('SELECT id, payload FROM ${snake}');
    expect(rows.map((r) => [r.get('id'), r.get('payload')]).sort()).toEqual([
      ['a', 'newer'],
      ['b', null],
    ]);
    expect(await kit.deadLetters('${name}')).toEqual([
      { offset: 3, reason: 'CODEC_UNKNOWN_MAGIC' },
      { offset: 4, reason: 'RECORD_INVALID' },
    ]);
  });
});
`,
  };
}

/** Adds the function to functions/catalog.ts: its two imports, and its entry last. */
export function withCatalogEntry(catalog: string, { name, topic }: NewFunction): string {
  const upper = spellings(name).snake.toUpperCase();
  const end = '] as const satisfies readonly CatalogEntry[];';
  if (!catalog.includes(end)) throw new Error(`functions/catalog.ts no longer ends its list with "${end}"`);
  const imports =
    `import { fromEnvironment as ${upper}_DEFINITION, READER_SCHEMA as ${upper}_READER } from './${name}/definition';\n` +
    `import { MIGRATIONS as ${upper}_MIGRATIONS } from './${name}/migrations';\n`;
  const lastImport = catalog.lastIndexOf('\nimport ');
  const afterImports = catalog.indexOf('\n', catalog.indexOf(';', lastImport)) + 1;
  const entry = `  {\n    name: '${name}',\n    topic: '${topic}',\n    readerSchema: ${upper}_READER,\n    migrations: ${upper}_MIGRATIONS,\n    definition: ${upper}_DEFINITION,\n  },\n`;
  const withImports = catalog.slice(0, afterImports) + imports + catalog.slice(afterImports);
  return withImports.replace(end, `${entry}${end}`);
}

export function scaffold(request: NewFunction, root = REPO_ROOT): string[] {
  if (!NAME.test(request.name) || request.name.length > 40)
    throw new Error(`${request.name}: a function name is lowercase words joined by '-' (page-views), at most 40 chars`);
  if (!TOPIC.test(request.topic)) throw new Error(`${request.topic}: not a Kafka topic name`);
  const dir = path.join(root, 'functions', request.name);
  const catalogFile = path.join(root, 'functions', 'catalog.ts');
  const catalog = readFileSync(catalogFile, 'utf8');
  if (existsSync(dir) || catalog.includes(`name: '${request.name}'`))
    throw new Error(`functions/${request.name} exists already`);
  const files = scaffoldFiles(request);
  mkdirSync(dir);
  for (const [file, text] of Object.entries(files)) writeFileSync(path.join(dir, file), text);
  writeFileSync(catalogFile, withCatalogEntry(catalog, request));
  const written = [...Object.keys(files).map((f) => path.join('functions', request.name, f)), 'functions/catalog.ts'];
  // The project's own formatter settles import order and line breaks, so the new files are lint-clean as written.
  execFileSync(path.join(root, 'node_modules/.bin/biome'), ['check', '--write', ...written], {
    cwd: root,
    stdio: 'ignore',
  });
  return written;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { positionals, values } = parseArgs({ allowPositionals: true, options: { topic: { type: 'string' } } });
  const [name] = positionals;
  if (!name || !values.topic) {
    console.error('usage: npm run new -- <name> --topic <topic>');
    process.exit(2);
  }
  for (const file of scaffold({ name, topic: values.topic })) console.log(`wrote ${file}`);
  console.log(`next: npx vitest run functions/${name}   (its test, against the local stack: npm run stack -- up)`);
  console.log('      npm run synth                     (its Lambda, mapping, alarms and dashboard rows)');
}
