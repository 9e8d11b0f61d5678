import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import cassandra from 'cassandra-driver';
import { ConfigError } from '../errors';
import type { Consistency, ScyllaConfig, TlsConfig } from './config';
import { type Credentials, type CredentialsSource, readSecret, type SecretsClient } from './credentials';
import { classify, isAuthenticationFailure, ScyllaAuthError, ScyllaUnavailableError } from './errors';
import { RoutingPolicy } from './routing';
import { answeredBySpeculativeExecution, retryPolicy, speculativeExecutionPolicy } from './speculative';
import type { Statement } from './statement';

export interface ExecuteOptions {
  /** Write time in microseconds since the epoch (CQL `USING TIMESTAMP`), see `writeTimestamp`. */
  timestamp?: number;
  fetchSize?: number;
}

export interface SessionHealth {
  state: 'idle' | 'connecting' | 'connected';
  /** Times the client was rebuilt because every host was lost. */
  reconnects: number;
  hosts: { address: string; up: boolean; openConnections: number; inFlight: number }[];
}

/** What the session reports (the metrics module implements it), given once at construction. */
export interface SessionEvents {
  /** `statement` is tried again after `error` (the retries metric). */
  retried(statement: Statement, error: Error): void;
  /** A statement answered after `sent` hedges (speculative executions); `won` when a hedge answered first. */
  hedged(sent: number, won: boolean): void;
}

const NO_EVENTS: SessionEvents = { retried() {}, hedged() {} };

export interface SessionOptions {
  /** Default true. Migrations connect before their keyspace exists: they qualify every name instead. */
  useKeyspace?: boolean;
  events?: SessionEvents;
}

/**
 * One Scylla client per container, kept in module scope by the function and reused by every warm invocation.
 * It connects lazily (the first statement pays, not the cold start), refetches credentials once when Scylla
 * refuses them (a rotated secret), and rebuilds the client when every host was lost while the container slept
 * (a restarted cluster), so a stale connection never fails a batch that a retry would serve.
 *
 * Statements are always prepared. Only idempotent statements are retried, with exponential backoff and full
 * jitter; the driver's own retry policy is turned off so that retries happen once, here, where they are counted
 * (but for a hedged statement's try that fails while another may still answer: `retryPolicy`).
 */
export class ScyllaSession {
  private client: cassandra.Client | undefined;
  private connecting: Promise<cassandra.Client> | undefined;
  private reconnectCount = 0;
  private readonly events: SessionEvents;
  private readonly useKeyspace: boolean;

  constructor(
    readonly config: ScyllaConfig,
    private readonly credentials: CredentialsSource,
    private readonly secrets?: SecretsClient,
    options: SessionOptions = {},
  ) {
    this.events = options.events ?? NO_EVENTS;
    this.useKeyspace = options.useKeyspace ?? true;
  }

  /** The connected client, connecting on first use; every later call returns the same client. */
  connected(): Promise<cassandra.Client> {
    if (this.client) return Promise.resolve(this.client);
    this.connecting ??= this.connect().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  execute(statement: Statement, params: unknown[], options: ExecuteOptions = {}): Promise<cassandra.types.ResultSet> {
    const client = this.client;
    if (client === undefined) return this.executeWithRetries(statement, params, options);
    // The first try outside the retry loop's async frame: nearly every statement succeeds at once, and the frame
    // was measured at ~740 bytes of garbage per statement (a sampling heap profile of a bench:e2e run).
    return client.execute(statement.cql, params, this.queryOptions(statement, options)).then(
      (result) => this.answered(result),
      (error: unknown) => this.executeWithRetries(statement, params, options, { client, error }),
    );
  }

  /** Tries until the statement succeeds, fails for good, or its attempts are spent; `failed` is a first try's. */
  private async executeWithRetries(
    statement: Statement,
    params: unknown[],
    options: ExecuteOptions,
    failed?: { client: cassandra.Client; error: unknown },
  ): Promise<cassandra.types.ResultSet> {
    const attempts = statement.idempotent ? this.config.retries + 1 : 1;
    let reauthenticated = false;
    let first = failed;
    for (let attempt = 1; ; attempt++) {
      let client: cassandra.Client | undefined;
      try {
        if (first) {
          // The first try already failed on `execute`'s fast path: handled here like any other failure.
          client = first.client;
          const { error } = first;
          first = undefined;
          throw error;
        }
        client = this.client ?? (await this.connected());
        return this.answered(await client.execute(statement.cql, params, this.queryOptions(statement, options)));
      } catch (error) {
        const typed = classify(error, statement.kind);
        if (typed instanceof ScyllaAuthError && client && !reauthenticated) {
          // The credentials were rotated while this client was connected, and Scylla refused them when it
          // reconnected (a node restarted): a new client fetches them again. Once per statement.
          reauthenticated = true;
          await this.replace(client);
          continue;
        }
        if (!typed.transient || attempt >= attempts) throw typed;
        // Every host lost (a restart while this container slept): a fresh client reconnects at once instead of
        // waiting out the driver's reconnection schedule.
        if (client && error instanceof cassandra.errors.NoHostAvailableError) await this.reset(client);
        this.events.retried(statement, typed);
        const ceiling = this.config.retryBaseDelayMs * 2 ** (attempt - 1);
        await sleep(Math.random() * ceiling);
      }
    }
  }

  private queryOptions(statement: Statement, options: ExecuteOptions): cassandra.QueryOptions {
    return {
      prepare: true,
      isIdempotent: statement.idempotent,
      consistency: CONSISTENCY[statement.consistency ?? this.config.consistency],
      readTimeout: this.config.requestTimeoutMs,
      timestamp: options.timestamp,
      fetchSize: options.fetchSize,
    };
  }

  private answered(result: cassandra.types.ResultSet): cassandra.types.ResultSet {
    if (result.info.speculativeExecutions > 0) {
      this.events.hedged(result.info.speculativeExecutions, answeredBySpeculativeExecution(result.info));
    }
    return result;
  }

  health(): SessionHealth {
    const client = this.client;
    const state = client ? 'connected' : this.connecting ? 'connecting' : 'idle';
    if (!client) return { state, reconnects: this.reconnectCount, hosts: [] };
    const pool = client.getState();
    return {
      state,
      reconnects: this.reconnectCount,
      hosts: client.hosts.values().map((host) => ({
        address: host.address,
        up: host.isUp(),
        openConnections: pool.getOpenConnections(host),
        inFlight: pool.getInFlightQueries(host),
      })),
    };
  }

  async shutdown(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    await client?.shutdown();
  }

  private async reset(stale: cassandra.Client): Promise<void> {
    if (stale.hosts.values().some((host) => host.isUp())) return; // the driver still has a way in
    await this.replace(stale);
  }

  /** The next statement connects a new client (`stale` is shut down). */
  private async replace(stale: cassandra.Client): Promise<void> {
    if (this.client !== stale) return; // another caller already replaced it
    this.client = undefined;
    this.reconnectCount++;
    await stale.shutdown().catch(() => {});
  }

  private async connect(): Promise<cassandra.Client> {
    const sslOptions = await this.sslOptions();
    try {
      return await this.open(await this.credentials.get(), sslOptions);
    } catch (error) {
      if (!isAuthenticationFailure(error)) throw classify(error, 'connect');
      // Refused credentials: the secret may have been rotated since it was cached. Fetch it once more.
    }
    try {
      return await this.open(await this.credentials.refresh(), sslOptions);
    } catch (error) {
      throw classify(error, 'connect with refetched credentials');
    }
  }

  private async open(credentials: Credentials | undefined, sslOptions: object | undefined): Promise<cassandra.Client> {
    const config = this.config;
    const client = new cassandra.Client({
      contactPoints: config.contactPoints,
      // The driver learns the other nodes from system.peers, which has their addresses but not their port: it
      // assumes this one (9042 unless set). Nodes on another port, the contact points say which.
      protocolOptions: { port: nativePort(config.contactPoints) },
      localDataCenter: config.localDataCenter,
      keyspace: this.useKeyspace ? config.keyspace : undefined,
      authProvider: credentials
        ? new cassandra.auth.PlainTextAuthProvider(credentials.username, credentials.password)
        : undefined,
      sslOptions,
      policies: {
        // Token aware over DC aware round robin: each statement goes to a replica in the local DC (the driver's
        // policy, its tokens computed without its per-statement garbage: routing.ts).
        loadBalancing: new RoutingPolicy({ localDc: config.localDataCenter }),
        retry: retryPolicy(config.speculative),
        // Idempotent statements only (the driver checks the flag each statement carries).
        speculativeExecution: speculativeExecutionPolicy(config.speculative),
        reconnection: new cassandra.policies.reconnection.ExponentialReconnectionPolicy(200, 5_000, true),
      },
      socketOptions: { connectTimeout: 5_000, readTimeout: config.requestTimeoutMs },
      queryOptions: { prepare: true, consistency: CONSISTENCY[config.consistency] },
      pooling: { warmup: true },
    });
    try {
      await client.connect();
    } catch (error) {
      await client.shutdown().catch(() => {});
      throw error;
    }
    this.client = client;
    return client;
  }

  private async sslOptions(): Promise<object | undefined> {
    const tls: TlsConfig = this.config.tls;
    if (!tls.enabled) return undefined;
    let ca: string | undefined;
    if (tls.caFile) ca = await readFile(tls.caFile, 'utf8');
    else if (tls.caSecretId) {
      if (!this.secrets) throw new ConfigError('SCYLLA_TLS_CA_SECRET_ID', 'needs a Secrets Manager client');
      const secretId = tls.caSecretId;
      ca = await readSecret(this.secrets, secretId).catch((error: unknown) => {
        throw new ScyllaUnavailableError(`TLS CA secret ${secretId} could not be read`, { cause: error });
      });
    }
    return { ca: ca ? [ca] : undefined, servername: tls.serverName, rejectUnauthorized: true };
  }
}

/** The port the contact points share (every node of a cluster listens on the same one), else CQL's 9042. */
function nativePort(contactPoints: string[]): number {
  const ports = new Set(contactPoints.map((point) => Number(point.split(':')[1] ?? 9042)));
  return ports.size === 1 ? ([...ports][0] as number) : 9042;
}

const levels = cassandra.types.consistencies;
const CONSISTENCY: Record<Consistency, number> = {
  ONE: levels.one,
  TWO: levels.two,
  THREE: levels.three,
  QUORUM: levels.quorum,
  ALL: levels.all,
  LOCAL_QUORUM: levels.localQuorum,
  EACH_QUORUM: levels.eachQuorum,
  LOCAL_ONE: levels.localOne,
};
