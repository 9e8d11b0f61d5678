import { type Env, flag, integer, list, oneOf, optionalString, requireString } from '../config';
import { ConfigError } from '../errors';
import type { SpeculativeConfig } from './speculative';

export const CONSISTENCIES = [
  'ONE',
  'TWO',
  'THREE',
  'QUORUM',
  'ALL',
  'LOCAL_QUORUM',
  'EACH_QUORUM',
  'LOCAL_ONE',
] as const;
export type Consistency = (typeof CONSISTENCIES)[number];

/**
 * Hedged requests on by default: up to 2 hedges (with RF 3, each replica asked at most once), after 50 ms. A hedge
 * should fire only for statements slower than a healthy cluster's P99, so that it adds a percent of load, not
 * doubles it: the model's Scylla answered SELECTs in 250 µs and INSERTs in 2 ms at the median, and 50 ms is far past
 * their P99 while still 40 times under the 2 s request timeout. On `npm run bench:tail`'s incident (10 % of every
 * node's answers a second late), hedges after the baseline's P99 cut batch P95 from ×19.8 to ×2.65 of the baseline's.
 * Choose yours from the statement latency histogram (docs/tuning.md).
 */
export const DEFAULT_SPECULATIVE: SpeculativeConfig = { max: 2, delayMs: 50 };

/** Where credentials come from: Secrets Manager in AWS; inline only for local runs. */
export type CredentialsConfig =
  | { source: 'secrets-manager'; secretId: string }
  | { source: 'inline'; username: string; password: string }
  | { source: 'none' };

export type TlsConfig =
  | { enabled: false }
  | { enabled: true; caFile?: string; caSecretId?: string; serverName?: string };

export interface ScyllaConfig {
  /** `host` or `host:port`. */
  contactPoints: string[];
  localDataCenter: string;
  keyspace: string;
  consistency: Consistency;
  /** Per statement (the driver's read timeout). */
  requestTimeoutMs: number;
  /** Retries of an idempotent statement after a transient failure (never of a non-idempotent one). */
  retries: number;
  /** First retry delay; doubles per retry, full jitter. */
  retryBaseDelayMs: number;
  /** The write executor's bound on statements in flight at once. */
  maxInFlight: number;
  /** Hedged requests for idempotent statements (see speculative.ts). */
  speculative: SpeculativeConfig;
  credentials: CredentialsConfig;
  tls: TlsConfig;
}

/**
 * The Scylla settings of a function, from its environment (SCYLLA_*). Parsed once at cold start.
 *
 * SCYLLA_CONTACT_POINTS (required, comma separated host[:port]), SCYLLA_LOCAL_DC (required), SCYLLA_KEYSPACE
 * (required), SCYLLA_CONSISTENCY (LOCAL_QUORUM), SCYLLA_REQUEST_TIMEOUT_MS (2000), SCYLLA_RETRIES (3),
 * SCYLLA_RETRY_BASE_DELAY_MS (50), SCYLLA_MAX_IN_FLIGHT (128), SCYLLA_SPECULATIVE_MAX (hedges per idempotent
 * statement, 0 = off; 2) after SCYLLA_SPECULATIVE_DELAY_MS (50; see DEFAULT_SPECULATIVE); credentials:
 * SCYLLA_CREDENTIALS_SECRET_ID (a Secrets Manager secret holding {"username","password"}) or SCYLLA_USERNAME +
 * SCYLLA_PASSWORD (local runs); TLS:
 * SCYLLA_TLS=on with SCYLLA_TLS_CA_FILE or SCYLLA_TLS_CA_SECRET_ID, and SCYLLA_TLS_SERVER_NAME.
 */
export function parseScyllaConfig(env: Env): ScyllaConfig {
  const contactPoints = list(env, 'SCYLLA_CONTACT_POINTS');
  for (const point of contactPoints) {
    if (!/^[A-Za-z0-9.-]+(:\d{1,5})?$/.test(point))
      throw new ConfigError('SCYLLA_CONTACT_POINTS', `"${point}" is not host[:port]`);
  }
  const secretId = optionalString(env, 'SCYLLA_CREDENTIALS_SECRET_ID');
  const username = optionalString(env, 'SCYLLA_USERNAME');
  const password = env.SCYLLA_PASSWORD;
  let credentials: CredentialsConfig = { source: 'none' };
  if (secretId && username) {
    throw new ConfigError('SCYLLA_CREDENTIALS_SECRET_ID', 'set either a secret or SCYLLA_USERNAME, not both');
  }
  if (secretId) credentials = { source: 'secrets-manager', secretId };
  else if (username) {
    if (password === undefined) throw new ConfigError('SCYLLA_PASSWORD', 'is required with SCYLLA_USERNAME');
    credentials = { source: 'inline', username, password };
  }
  const tlsOn = flag(env, 'SCYLLA_TLS', false);
  const tls: TlsConfig = tlsOn
    ? {
        enabled: true,
        caFile: optionalString(env, 'SCYLLA_TLS_CA_FILE'),
        caSecretId: optionalString(env, 'SCYLLA_TLS_CA_SECRET_ID'),
        serverName: optionalString(env, 'SCYLLA_TLS_SERVER_NAME'),
      }
    : { enabled: false };
  if (tls.enabled && tls.caFile && tls.caSecretId) {
    throw new ConfigError('SCYLLA_TLS_CA_FILE', 'set either a CA file or a CA secret, not both');
  }
  return {
    contactPoints,
    localDataCenter: requireString(env, 'SCYLLA_LOCAL_DC'),
    keyspace: requireString(env, 'SCYLLA_KEYSPACE'),
    consistency: oneOf(env, 'SCYLLA_CONSISTENCY', CONSISTENCIES, 'LOCAL_QUORUM'),
    requestTimeoutMs: integer(env, 'SCYLLA_REQUEST_TIMEOUT_MS', 2_000, { min: 10, max: 120_000 }),
    retries: integer(env, 'SCYLLA_RETRIES', 3, { min: 0, max: 20 }),
    retryBaseDelayMs: integer(env, 'SCYLLA_RETRY_BASE_DELAY_MS', 50, { min: 1, max: 10_000 }),
    maxInFlight: integer(env, 'SCYLLA_MAX_IN_FLIGHT', 128, { min: 1, max: 4_096 }),
    speculative: {
      max: integer(env, 'SCYLLA_SPECULATIVE_MAX', DEFAULT_SPECULATIVE.max, { min: 0, max: 4 }),
      delayMs: integer(env, 'SCYLLA_SPECULATIVE_DELAY_MS', DEFAULT_SPECULATIVE.delayMs, { min: 1, max: 60_000 }),
    },
    credentials,
    tls,
  };
}
