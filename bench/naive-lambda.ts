import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import cassandra from 'cassandra-driver';
import { naiveHandler } from './naive-handler';

/**
 * The naive handler as a Lambda function module, built with the functions' esbuild configuration so `npm run
 * bench:lambda` runs it under RIE beside them. Plain settings from its environment (a bench, not a function).
 */
const env = process.env;
const client = new cassandra.Client({
  contactPoints: (env.SCYLLA_CONTACT_POINTS ?? '').split(','),
  localDataCenter: env.SCYLLA_LOCAL_DC ?? '',
  keyspace: env.SCYLLA_KEYSPACE,
  authProvider: new cassandra.auth.PlainTextAuthProvider(env.SCYLLA_USERNAME ?? '', env.SCYLLA_PASSWORD ?? ''),
  queryOptions: { consistency: cassandra.types.consistencies.localQuorum, prepare: true },
});
export const handler = naiveHandler(
  client,
  new SchemaRegistry({ host: (env.SCHEMA_REGISTRY_URLS ?? '').split(',')[0] ?? '' }),
);
