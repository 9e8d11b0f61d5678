import path from 'node:path';
import { REPO_ROOT } from '../../infra/repo-root';
import { flag } from '../../lib/config';
import { StackError } from './errors';

/** Where the local stack keeps its artifacts, data and logs, and the loopback ports it listens on. */
export interface StackConfig {
  /** The state dir: one folder, outside the sources, holding everything the stack writes. */
  home: string;
  /** Downloaded and built artifacts (jars, binaries), kept across `down`/`up` and `clean`. */
  artifactsDir: string;
  /** Per-server config, data, logs and pid files. */
  runDir: string;
  kafka: { port: number; controllerPort: number };
  /**
   * `tls`: client encryption on (STACK_CQL_TLS), with a CA and node certificate made at setup (dev/stack/tls.ts).
   * `nodes`: one node, or a cluster on consecutive loopback addresses (STACK_CQL_NODES; see `cqlNodes`). `host` is
   * the first node's address as clients are told it (STACK_CQL_HOST); `listenHost` where it really listens
   * (STACK_CQL_LISTEN_HOST, `host` unless set): set apart, something else (a fault proxy) must answer on `host`.
   */
  cql: {
    nodes: number;
    host: string;
    listenHost: string;
    port: number;
    storagePort: number;
    commitlogSync: 'periodic' | 'batch';
    tls: boolean;
  };
  registry: { port: number };
  prometheus: { port: number };
  /** moto's server: AWS APIs (Secrets Manager, Glue Schema Registry) where no AWS account is. */
  aws: { port: number };
}

/** The addresses clients use; derived from the config so tests and tools never hard-code a port. */
export interface StackEndpoints {
  kafkaBootstrap: string;
  /** The first CQL node, `host:port`. */
  cqlContactPoint: string;
  /** Every CQL node as clients are told it (one entry unless STACK_CQL_NODES is more). */
  cqlNodes: string[];
  /** Cassandra 5 needs a DC name for the driver's load-balancing policy; SimpleSnitch names it this. */
  cqlLocalDataCenter: string;
  cqlCredentials: { username: string; password: string };
  /** The CA a client must trust when the CQL server encrypts (STACK_CQL_TLS=on); undefined otherwise. */
  cqlTlsCaFile: string | undefined;
  registryUrl: string;
  prometheusUrl: string;
  /** Endpoint for AWS SDK clients (any region, any credentials). */
  awsEndpoint: string;
}

export { REPO_ROOT };

function port(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > 65535) {
    throw new StackError('STACK_CONFIG', `${name}=${raw} is not a TCP port (an integer from 1 to 65535)`);
  }
  return value;
}

function loopbackHost(env: NodeJS.ProcessEnv, name: string, fallback: string): string {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(raw) || raw.split('.').some((octet) => Number(octet) > 255)) {
    throw new StackError('STACK_CONFIG', `${name}=${raw} is not a loopback IPv4 address (127.x.y.z)`);
  }
  return raw;
}

function commitlogSync(raw: string | undefined): 'periodic' | 'batch' {
  if (raw === undefined || raw === '' || raw === 'periodic') return 'periodic';
  if (raw === 'batch') return 'batch';
  throw new StackError('STACK_CONFIG', `STACK_CQL_COMMITLOG_SYNC=${raw} is neither periodic nor batch`);
}

function cqlNodeCount(raw: string | undefined): number {
  if (raw === undefined || raw === '') return 1;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > 5) {
    throw new StackError('STACK_CONFIG', `STACK_CQL_NODES=${raw} is not a node count from 1 to 5`);
  }
  return value;
}

export function loadStackConfig(env: NodeJS.ProcessEnv = process.env): StackConfig {
  const home = path.resolve(env.STACK_HOME || path.join(REPO_ROOT, '.stack'));
  const config: StackConfig = {
    home,
    // Shareable between state dirs (a test's throwaway server reuses the downloaded jars).
    artifactsDir: path.resolve(env.STACK_ARTIFACTS || path.join(home, 'artifacts')),
    runDir: path.join(home, 'run'),
    kafka: {
      port: port(env, 'STACK_KAFKA_PORT', 9092),
      controllerPort: port(env, 'STACK_KAFKA_CONTROLLER_PORT', 9093),
    },
    cql: {
      nodes: cqlNodeCount(env.STACK_CQL_NODES),
      host: loopbackHost(env, 'STACK_CQL_HOST', '127.0.0.1'),
      listenHost: loopbackHost(env, 'STACK_CQL_LISTEN_HOST', loopbackHost(env, 'STACK_CQL_HOST', '127.0.0.1')),
      port: port(env, 'STACK_CQL_PORT', 9042),
      storagePort: port(env, 'STACK_CQL_STORAGE_PORT', 7000),
      commitlogSync: commitlogSync(env.STACK_CQL_COMMITLOG_SYNC),
      tls: flag(env, 'STACK_CQL_TLS', false),
    },
    registry: { port: port(env, 'STACK_REGISTRY_PORT', 8081) },
    prometheus: { port: port(env, 'STACK_PROMETHEUS_PORT', 9090) },
    aws: { port: port(env, 'STACK_AWS_PORT', 5000) },
  };
  const last = (host: string) => Number(host.split('.')[3]);
  if (Math.max(last(config.cql.host), last(config.cql.listenHost)) + config.cql.nodes - 1 > 254) {
    throw new StackError('STACK_CONFIG', `${config.cql.nodes} CQL nodes do not fit after ${config.cql.host}`);
  }
  const used = new Map<number, string>();
  for (const [name, value] of [
    ['STACK_KAFKA_PORT', config.kafka.port],
    ['STACK_KAFKA_CONTROLLER_PORT', config.kafka.controllerPort],
    ['STACK_CQL_PORT', config.cql.port],
    ['STACK_CQL_STORAGE_PORT', config.cql.storagePort],
    ['STACK_REGISTRY_PORT', config.registry.port],
    ['STACK_PROMETHEUS_PORT', config.prometheus.port],
    ['STACK_AWS_PORT', config.aws.port],
  ] as const) {
    const other = used.get(value);
    if (other)
      throw new StackError('STACK_CONFIG', `${name} and ${other} are both ${value}; each server needs its own port`);
    used.set(value, name);
  }
  return config;
}

/** Where the CQL server's CA, node key and store password are made (kept across `down`/`up`, gone with `clean`). */
export const cqlTlsDir = (config: StackConfig) => path.join(config.runDir, 'cql', 'tls');

/** One CQL node: the address clients are told and the one it listens on (the same unless a proxy sits between). */
export interface CqlNodeAddress {
  /** 1-based. */
  index: number;
  host: string;
  listenHost: string;
  port: number;
}

/** Node i (1-based) is on the i-th consecutive loopback address from `host` (and from `listenHost`). */
export function cqlNodes(config: StackConfig): CqlNodeAddress[] {
  const nth = (first: string, i: number) => {
    const octets = first.split('.').map(Number);
    return [octets[0], octets[1], octets[2], (octets[3] ?? 0) + i].join('.');
  };
  return Array.from({ length: config.cql.nodes }, (_, i) => ({
    index: i + 1,
    host: nth(config.cql.host, i),
    listenHost: nth(config.cql.listenHost, i),
    port: config.cql.port,
  }));
}

export function stackEndpoints(config: StackConfig): StackEndpoints {
  const nodes = cqlNodes(config).map((node) => `${node.host}:${node.port}`);
  return {
    kafkaBootstrap: `127.0.0.1:${config.kafka.port}`,
    cqlContactPoint: nodes[0] ?? '',
    cqlNodes: nodes,
    cqlLocalDataCenter: 'datacenter1',
    cqlCredentials: { username: 'cassandra', password: 'cassandra' },
    cqlTlsCaFile: config.cql.tls ? path.join(cqlTlsDir(config), 'ca.pem') : undefined,
    registryUrl: `http://127.0.0.1:${config.registry.port}`,
    prometheusUrl: `http://127.0.0.1:${config.prometheus.port}`,
    awsEndpoint: `http://127.0.0.1:${config.aws.port}`,
  };
}

/** The SCYLLA_* settings that point a function or a tool at the local stack's CQL server. */
export function localScyllaEnvironment(endpoints: StackEndpoints, keyspace: string): Record<string, string> {
  return {
    SCYLLA_CONTACT_POINTS: endpoints.cqlNodes.join(','),
    SCYLLA_LOCAL_DC: endpoints.cqlLocalDataCenter,
    SCYLLA_KEYSPACE: keyspace,
    SCYLLA_USERNAME: endpoints.cqlCredentials.username,
    SCYLLA_PASSWORD: endpoints.cqlCredentials.password,
    SCYLLA_CONSISTENCY: 'LOCAL_ONE',
    ...(endpoints.cqlTlsCaFile ? { SCYLLA_TLS: 'on', SCYLLA_TLS_CA_FILE: endpoints.cqlTlsCaFile } : {}),
  };
}
