import type avro from 'avsc';
import type { Env } from '../lib/config';
import type { ProcessorDefinition } from '../lib/runtime/processor';
import type { MigrationSet } from '../lib/scylla/migrations';
import {
  fromEnvironment as IDENTITY_LINKER_DEFINITION,
  READER_SCHEMA as IDENTITY_LINKER_READER,
} from './identity-linker/definition';
import { MIGRATIONS as IDENTITY_LINKER_MIGRATIONS } from './identity-linker/migrations';
import {
  fromEnvironment as NAVIGATION_ENRICHER_DEFINITION,
  READER_SCHEMA as NAVIGATION_ENRICHER_READER,
} from './navigation-enricher/definition';
import { MIGRATIONS as NAVIGATION_ENRICHER_MIGRATIONS } from './navigation-enricher/migrations';
import {
  fromEnvironment as SEGMENT_BUILDER_DEFINITION,
  READER_SCHEMA as SEGMENT_BUILDER_READER,
} from './segment-builder/definition';
import { MIGRATIONS as SEGMENT_BUILDER_MIGRATIONS } from './segment-builder/migrations';

/**
 * The project's functions: the one list the build, the CDK app (its config keys, one Lambda and mapping each),
 * `npm run migrate`, `npm run schemas:check`, `npm start` and the chaos run derive from. A function lives in
 * `functions/<name>/` (definition, handler, migrations); its handler imports only its own definition, never this
 * file, so a bundle holds one function.
 */
export interface CatalogEntry {
  /** The folder under functions/, the environment file's key, the deployed function's name suffix. */
  readonly name: string;
  /** The topic it reads on the local stack (`npm start`, chaos, the schema gate without `--environment`). */
  readonly topic: string;
  /** What its `process` step reads: every writer version registered for the topic must resolve into it. */
  readonly readerSchema: avro.Schema;
  /** Its tables, in its own version order. */
  readonly migrations: MigrationSet['migrations'];
  /** Its definition as its handler builds it, from an environment (defaults for what that does not set). */
  readonly definition: (env: Env) => ProcessorDefinition<never, unknown>;
}

export const CATALOG = [
  {
    name: 'identity-linker',
    topic: 'identity',
    readerSchema: IDENTITY_LINKER_READER,
    migrations: IDENTITY_LINKER_MIGRATIONS,
    definition: IDENTITY_LINKER_DEFINITION,
  },
  {
    name: 'navigation-enricher',
    topic: 'navigation',
    readerSchema: NAVIGATION_ENRICHER_READER,
    migrations: NAVIGATION_ENRICHER_MIGRATIONS,
    definition: NAVIGATION_ENRICHER_DEFINITION,
  },
  {
    name: 'segment-builder',
    topic: 'navigation',
    readerSchema: SEGMENT_BUILDER_READER,
    migrations: SEGMENT_BUILDER_MIGRATIONS,
    definition: SEGMENT_BUILDER_DEFINITION,
  },
] as const satisfies readonly CatalogEntry[];

export type FunctionName = (typeof CATALOG)[number]['name'];

export const FUNCTIONS: readonly FunctionName[] = CATALOG.map((entry) => entry.name);

export function isFunctionName(name: string): name is FunctionName {
  return (FUNCTIONS as readonly string[]).includes(name);
}

export function catalogEntry(name: FunctionName): (typeof CATALOG)[number] {
  const entry = CATALOG.find((e) => e.name === name);
  if (!entry) throw new RangeError(`no function ${name} in functions/catalog.ts`);
  return entry;
}

/** The migration sets of `names` (every function's by default), for `migrate()`. */
export function catalogMigrations(names: readonly FunctionName[] = FUNCTIONS): MigrationSet[] {
  return names.map((name) => ({ owner: name, migrations: catalogEntry(name).migrations }));
}
