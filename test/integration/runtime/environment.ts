import { endpoints } from '../endpoints';

/** A function's environment as Lambda would hold it, pointing at the local stack and a test's own keyspace. */
export function functionEnvironment(keyspace: string, overrides: Record<string, string> = {}): Record<string, string> {
  return {
    SCYLLA_CONTACT_POINTS: endpoints.cqlContactPoint,
    SCYLLA_LOCAL_DC: endpoints.cqlLocalDataCenter,
    SCYLLA_KEYSPACE: keyspace,
    SCYLLA_USERNAME: endpoints.cqlCredentials.username,
    SCYLLA_PASSWORD: endpoints.cqlCredentials.password,
    SCYLLA_CONSISTENCY: 'LOCAL_ONE',
    SCHEMA_REGISTRY_URLS: endpoints.registryUrl,
    METRICS_EMF: 'off',
    METRICS_REMOTE_WRITE_URL: `${endpoints.prometheusUrl}/api/v1/write`,
    ...overrides,
  };
}
