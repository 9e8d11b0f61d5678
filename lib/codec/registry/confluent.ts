import { setTimeout as sleep } from 'node:timers/promises';
import { type Env, integer, list, optionalString } from '../../config';
import { CodecError, RegistryRequestError, RegistryUnavailableError } from '../errors';
import type { SchemaRef } from '../framing';
import type { RegisteredSchema, SchemaRegistry } from './types';

/**
 * A client of the Confluent Schema Registry REST API (also served by AxonOps, Apicurio's ccompat API, Karapace,
 * Redpanda). Written here rather than taken from @kafkajs/confluent-schema-registry: that package parses the schema
 * with its own avsc options, has no GUID lookups, no URL failover and no distinction between "not found" (poison)
 * and "unreachable" (transient), which the runtime needs.
 */

export interface ConfluentRegistryOptions {
  /** Base URLs, tried in order: the next one is used when one is unreachable. */
  urls: string[];
  auth?: { username: string; password: string } | { bearerToken: string };
  /** Per request. */
  timeoutMs?: number;
  /** Retries per URL on 429, 5xx, timeouts and network errors (never on other 4xx). */
  retries?: number;
  /** First backoff; doubles per retry, with full jitter, capped at `maxBackoffMs`. */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Injected for tests that count requests; defaults to the global fetch. */
  fetch?: typeof fetch;
}

/**
 * The Confluent registry the environment names: SCHEMA_REGISTRY_URLS (comma separated), SCHEMA_REGISTRY_BASIC_AUTH
 * ("user:secret") or SCHEMA_REGISTRY_BEARER_TOKEN, SCHEMA_REGISTRY_TIMEOUT_MS (3000). Undefined without URLs.
 */
export function parseConfluentRegistryConfig(env: Env): ConfluentRegistryOptions | undefined {
  if (!optionalString(env, 'SCHEMA_REGISTRY_URLS')) return undefined;
  const basic = optionalString(env, 'SCHEMA_REGISTRY_BASIC_AUTH');
  const bearer = optionalString(env, 'SCHEMA_REGISTRY_BEARER_TOKEN');
  const [username = '', password = ''] = basic?.split(/:(.*)/s) ?? [];
  return {
    urls: list(env, 'SCHEMA_REGISTRY_URLS'),
    auth: bearer ? { bearerToken: bearer } : basic ? { username, password } : undefined,
    timeoutMs: integer(env, 'SCHEMA_REGISTRY_TIMEOUT_MS', 3_000, { min: 100, max: 60_000 }),
  };
}

interface SchemaResponse {
  schema?: string;
  schemaType?: string;
  references?: { name: string; subject: string; version: number }[];
}

const CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';

class Unreachable extends Error {}

export class ConfluentSchemaRegistry implements SchemaRegistry {
  private readonly urls: string[];
  private readonly headers: Record<string, string>;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly backoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly fetchImpl: typeof fetch;

  constructor(options: ConfluentRegistryOptions) {
    if (options.urls.length === 0) throw new RangeError('ConfluentSchemaRegistry needs at least one URL');
    this.urls = options.urls.map((url) => url.replace(/\/+$/, ''));
    this.headers = { accept: CONTENT_TYPE, 'content-type': CONTENT_TYPE };
    if (options.auth && 'bearerToken' in options.auth) {
      this.headers.authorization = `Bearer ${options.auth.bearerToken}`;
    } else if (options.auth) {
      this.headers.authorization = `Basic ${Buffer.from(`${options.auth.username}:${options.auth.password}`).toString('base64')}`;
    }
    this.timeoutMs = options.timeoutMs ?? 5_000;
    this.retries = options.retries ?? 3;
    this.backoffMs = options.backoffMs ?? 100;
    this.maxBackoffMs = options.maxBackoffMs ?? 2_000;
    this.fetchImpl = options.fetch ?? fetch;
  }

  async fetchSchema(ref: SchemaRef): Promise<RegisteredSchema> {
    const path =
      ref.kind === 'confluent-id'
        ? `/schemas/ids/${ref.id}`
        : ref.kind === 'confluent-guid'
          ? `/schemas/guids/${ref.guid}`
          : undefined;
    if (path === undefined) {
      throw new CodecError('CODEC_UNSUPPORTED_SCHEMA', `a Confluent registry cannot resolve a ${ref.kind} reference`);
    }
    const body = await this.request<SchemaResponse>('GET', path, `schema ${path.slice(path.lastIndexOf('/') + 1)}`);
    return {
      schema: this.avroText(body, path),
      references: await this.resolveReferences(body.references ?? [], new Set()),
    };
  }

  /** Registers `schema` under `subject`, or finds it if already there (the API is idempotent); returns its id. */
  async register(
    subject: string,
    schema: string,
    references: { name: string; subject: string; version: number }[] = [],
  ) {
    const body = await this.request<{ id: number }>(
      'POST',
      `/subjects/${encodeURIComponent(subject)}/versions`,
      `subject ${subject}`,
      JSON.stringify({ schemaType: 'AVRO', schema, references }),
    );
    return body.id;
  }

  /** Every version registered under `subject`, oldest first, each with its id and resolved references. */
  async subjectVersions(subject: string): Promise<{ version: number; id: number; registered: RegisteredSchema }[]> {
    const base = `/subjects/${encodeURIComponent(subject)}/versions`;
    const versions = await this.request<number[]>('GET', base, `subject ${subject}`);
    const out: { version: number; id: number; registered: RegisteredSchema }[] = [];
    for (const version of [...versions].sort((a, b) => a - b)) {
      const path = `${base}/${version}`;
      const body = await this.request<SchemaResponse & { id: number }>('GET', path, `${subject} v${version}`);
      out.push({
        version,
        id: body.id,
        registered: {
          schema: this.avroText(body, path),
          references: await this.resolveReferences(body.references ?? [], new Set()),
        },
      });
    }
    return out;
  }

  private avroText(body: SchemaResponse, what: string): string {
    if (body.schemaType !== undefined && body.schemaType !== 'AVRO') {
      throw new CodecError('CODEC_UNSUPPORTED_SCHEMA', `${what} is a ${body.schemaType} schema; this codec reads Avro`);
    }
    if (typeof body.schema !== 'string')
      throw new RegistryRequestError(`${what}: the registry's answer has no schema`, 200);
    return body.schema;
  }

  /** Depth first, so every named type is defined before a schema that uses it. */
  private async resolveReferences(
    references: NonNullable<SchemaResponse['references']>,
    seen: Set<string>,
  ): Promise<RegisteredSchema['references']> {
    const resolved: RegisteredSchema['references'] = [];
    for (const reference of references) {
      if (seen.has(reference.name)) continue;
      seen.add(reference.name);
      const path = `/subjects/${encodeURIComponent(reference.subject)}/versions/${reference.version}`;
      const body = await this.request<SchemaResponse>('GET', path, `reference ${reference.name}`);
      resolved.push(...(await this.resolveReferences(body.references ?? [], seen)));
      resolved.push({ name: reference.name, schema: this.avroText(body, path) });
    }
    return resolved;
  }

  private async request<T>(method: string, path: string, what: string, body?: string): Promise<T> {
    let last: unknown;
    for (const base of this.urls) {
      for (let attempt = 0; attempt <= this.retries; attempt++) {
        if (attempt > 0) await sleep(this.backoff(attempt, last));
        try {
          return await this.once<T>(method, `${base}${path}`, what, body);
        } catch (error) {
          if (!(error instanceof Unreachable)) throw error;
          last = error;
        }
      }
    }
    throw new RegistryUnavailableError(
      `schema registry unreachable for ${what} (${this.urls.join(', ')}): ${(last as Error).message}`,
      {
        cause: last,
      },
    );
  }

  private backoff(attempt: number, last: unknown): number {
    const retryAfter = last instanceof RetryAfter ? last.ms : 0;
    const ceiling = Math.min(this.maxBackoffMs, this.backoffMs * 2 ** (attempt - 1));
    return Math.max(Math.min(retryAfter, this.maxBackoffMs), Math.random() * ceiling);
  }

  private async once<T>(method: string, url: string, what: string, body: string | undefined): Promise<T> {
    let response: Response;
    try {
      response = await this.fetchImpl(url, {
        method,
        headers: this.headers,
        body,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      throw new Unreachable(`${method} ${url}: ${(error as Error).message}`, { cause: error });
    }
    if (response.ok) return (await response.json()) as T;
    const text = await response.text().catch(() => '');
    if (response.status === 429 || response.status >= 500) {
      const seconds = Number(response.headers.get('retry-after'));
      const message = `${method} ${url} answered ${response.status}`;
      throw Number.isFinite(seconds) && seconds > 0
        ? new RetryAfter(message, seconds * 1000)
        : new Unreachable(message);
    }
    let errorCode: number | undefined;
    try {
      errorCode = (JSON.parse(text) as { error_code?: number }).error_code;
    } catch {
      errorCode = undefined;
    }
    // Any 404: the registry has nothing at that path (40401/40402/40403, or a registry without GUID lookups).
    if (response.status === 404) {
      throw new CodecError('CODEC_SCHEMA_NOT_FOUND', `${what} is not in the registry (${errorCode ?? 404})`);
    }
    throw new RegistryRequestError(
      `${method} ${url} answered ${response.status}: ${text.slice(0, 200)}`,
      response.status,
    );
  }
}

class RetryAfter extends Unreachable {
  constructor(
    message: string,
    readonly ms: number,
  ) {
    super(message);
  }
}
