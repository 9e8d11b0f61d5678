import { ConfigError } from '../lib/errors';

/**
 * Where an operations command works. The people on call run these against a deployed environment, so the target is
 * what they name: the settings the functions themselves take (SCYLLA_*, SCHEMA_REGISTRY_*, DEAD_LETTER_*), or the
 * local stack when they say `--local`. A missing setting is an error naming both ways, never a silent switch to the
 * laptop's stack (a replay meant for production must not quietly write to the local keyspace).
 */
export async function opsTarget(
  env: NodeJS.ProcessEnv,
  target: { local: boolean | undefined; requires: string; command: string },
): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) if (value !== undefined) out[key] = value;
  if (target.local) return withLocalStack(out);
  if (!out[target.requires])
    throw new ConfigError(
      target.requires,
      `${target.command} needs its target: set ${target.requires} (and the settings beside it) or pass --local`,
    );
  return out;
}

/** The settings that point an ops command at the local stack; what the caller set explicitly wins. */
async function withLocalStack(out: Record<string, string>): Promise<Record<string, string>> {
  // Loaded only for --local: the tools never need the local world to reach a deployed one.
  const { loadStackConfig, localScyllaEnvironment, stackEndpoints } = await import('../dev/stack/config');
  const local = stackEndpoints(loadStackConfig());
  Object.assign(out, localScyllaEnvironment(local, out.SCYLLA_KEYSPACE ?? 'pipeline'));
  out.SCYLLA_REPLICATION ??= `{'class': 'NetworkTopologyStrategy', '${local.cqlLocalDataCenter}': 1}`;
  out.SCHEMA_REGISTRY_URLS ??= local.registryUrl;
  out.AWS_ENDPOINT_URL_SQS ??= local.awsEndpoint;
  out.AWS_ENDPOINT_URL_S3 ??= local.awsEndpoint;
  out.AWS_REGION ??= 'eu-west-1';
  out.AWS_ACCESS_KEY_ID ??= 'test';
  out.AWS_SECRET_ACCESS_KEY ??= 'test';
  out.DEAD_LETTER_KAFKA_BROKERS ??= local.kafkaBootstrap;
  out.DEAD_LETTER_KAFKA_TLS ??= 'off';
  return out;
}
