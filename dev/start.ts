import { loadStackConfig, stackEndpoints } from './stack/config';
import { StackError } from './stack/errors';
import { up } from './stack/stack';

/**
 * `npm start`: the README's main job. For now it brings the embedded local stack up and prints where each server
 * listens; the processors, the local event-source-mapping runner and the demo stream join it with the processors
 * issue.
 */
async function main() {
  const config = loadStackConfig();
  await up(config);
  const endpoints = stackEndpoints(config);
  console.log(`
Kafka bootstrap      ${endpoints.kafkaBootstrap}
CQL (Scylla API)     ${endpoints.cqlContactPoint}  user ${endpoints.cqlCredentials.username}
Schema registry      ${endpoints.registryUrl}
Prometheus           ${endpoints.prometheusUrl}  (remote write: ${endpoints.prometheusUrl}/api/v1/write)

The processors and the demo stream are not wired into \`npm start\` yet: this run only starts the local stack.
Stop it with \`npm run stack -- down\`.`);
}

main().catch((error: unknown) => {
  console.error(error instanceof StackError ? `\nstack: ${error.message}` : error);
  process.exit(1);
});
