import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { naiveHandler } from './naive-handler';
import { plainClient } from './plain-client';

/**
 * The naive handler as a Lambda function module, built with the functions' esbuild configuration so `npm run
 * bench:lambda` runs it under RIE beside them. Plain settings from its environment (a bench, not a function).
 */
const env = process.env;
const client = plainClient(env);
export const handler = naiveHandler(
  client,
  new SchemaRegistry({ host: (env.SCHEMA_REGISTRY_URLS ?? '').split(',')[0] ?? '' }),
);
