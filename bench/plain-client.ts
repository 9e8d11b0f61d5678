import cassandra from 'cassandra-driver';

/**
 * The bench handlers' own driver client (bench/naive-lambda.ts, bench/ceiling-lambda.ts), from the plain settings in
 * their environment: they are benches, not functions (no secret, no TLS, no retry policy of ours).
 */
export function plainClient(env: NodeJS.ProcessEnv): cassandra.Client {
  return new cassandra.Client({
    contactPoints: (env.SCYLLA_CONTACT_POINTS ?? '').split(','),
    localDataCenter: env.SCYLLA_LOCAL_DC ?? '',
    keyspace: env.SCYLLA_KEYSPACE,
    authProvider: new cassandra.auth.PlainTextAuthProvider(env.SCYLLA_USERNAME ?? '', env.SCYLLA_PASSWORD ?? ''),
    queryOptions: { consistency: cassandra.types.consistencies.localQuorum, prepare: true },
  });
}
