import type avro from 'avsc';
import { compileSchema } from './avro-types';
import { CodecError } from './errors';
import type { SchemaRef } from './framing';
import type { RegisteredSchema, SchemaRegistry } from './registry/types';

/** A writer schema, compiled once. */
export interface WriterSchema {
  readonly key: string;
  readonly type: avro.Type;
}

export interface SchemaCacheStats {
  hits: number;
  misses: number;
  /** Registry requests started (concurrent misses of one key share one). */
  fetches: number;
  size: number;
}

/** How long a "no such schema" answer is remembered, so a poison id does not cost a registry call per batch. */
const NOT_FOUND_TTL_MS = 30_000;

/**
 * Writer schemas by key, fetched once and kept for the container's life: a schema id (or GUID, or Glue version)
 * names immutable content, so an entry never goes stale. Loading is async and batch-level; `get` is synchronous, so
 * decoding a cached record does no async work at all.
 */
export class SchemaCache {
  private readonly schemas = new Map<string, WriterSchema>();
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly failures = new Map<string, { error: CodecError; until: number }>();
  private readonly counters = { hits: 0, misses: 0, fetches: 0 };

  constructor(
    private readonly registry: SchemaRegistry,
    private readonly now: () => number = Date.now,
  ) {}

  /** The compiled writer schema, or undefined when not loaded. */
  get(key: string): WriterSchema | undefined {
    return this.schemas.get(key);
  }

  /**
   * Counted by the reader, per record: a hit is a record decoded at once with a schema already cached, a miss a
   * record that had to wait for its schema (or whose schema could not be had). Only the reader can count so: its
   * plans by schema id answer most records before `get` is ever called.
   */
  countLookups(hits: number, misses: number): void {
    this.counters.hits += hits;
    this.counters.misses += misses;
  }

  /** Why `key` could not be loaded, if the registry said so recently (a poison reason). */
  failure(key: string): CodecError | undefined {
    const failure = this.failures.get(key);
    if (failure && failure.until > this.now()) return failure.error;
    return undefined;
  }

  /**
   * Loads every ref not yet cached. Poison answers (not found, not Avro, not parseable) are remembered per key and
   * do not reject; an unreachable registry rejects with `RegistryUnavailableError` (the batch must be retried).
   */
  async load(refs: Iterable<[string, SchemaRef]>): Promise<void> {
    const pending: Promise<void>[] = [];
    for (const [key, ref] of refs) {
      if (this.schemas.has(key) || this.failure(key)) continue;
      let loading = this.inFlight.get(key);
      if (!loading) {
        this.counters.fetches++;
        loading = this.fetchAndCompile(key, ref).finally(() => this.inFlight.delete(key));
        this.inFlight.set(key, loading);
      }
      pending.push(loading);
    }
    await Promise.all(pending);
  }

  stats(): SchemaCacheStats {
    return { ...this.counters, size: this.schemas.size };
  }

  private async fetchAndCompile(key: string, ref: SchemaRef): Promise<void> {
    let registered: Awaited<ReturnType<SchemaRegistry['fetchSchema']>>;
    try {
      registered = await this.registry.fetchSchema(ref);
    } catch (error) {
      if (error instanceof CodecError) return this.remember(key, error);
      throw error; // unreachable or misconfigured registry: not the record's fault
    }
    try {
      this.schemas.set(key, { key, type: compileRegistered(registered) });
      this.failures.delete(key);
    } catch (error) {
      this.remember(
        key,
        new CodecError(
          'CODEC_UNSUPPORTED_SCHEMA',
          `writer schema ${key} does not compile: ${(error as Error).message}`,
          { cause: error },
        ),
      );
    }
  }

  private remember(key: string, error: CodecError): void {
    this.failures.set(key, { error, until: this.now() + NOT_FOUND_TTL_MS });
  }
}

/** A registered writer schema compiled with its references (each named type defined before its users). */
export function compileRegistered(registered: RegisteredSchema): avro.Type {
  const named: Record<string, avro.Type> = {};
  for (const reference of registered.references) compileSchema(parse(reference.schema), named);
  return compileSchema(parse(registered.schema), named);
}

/** Schema text as registries serve it: JSON, except that a bare primitive may come unquoted (`string`). */
function parse(text: string): avro.Schema {
  const trimmed = text.trim();
  return (/^[a-z]+$/.test(trimmed) ? trimmed : JSON.parse(trimmed)) as avro.Schema;
}
