import cassandra from 'cassandra-driver';
import { cqlNodes, type StackConfig, stackEndpoints } from './config';
import { nodeClient } from './cql-pin';

/**
 * Makes a new multi-node CQL cluster ready for clients: every node already sees the others (the nodes' probes wait
 * for that); what is left is the roles. Cassandra keeps them in `system_auth`, created with one replica, so a login
 * through any node needs the one node holding the `cassandra` role: stall that node and no new connection anywhere
 * logs in. The keyspace gets a replica per node (up to 3), and the role is read at ALL, which makes the replicas
 * that lack it (the two new ones) take it by read repair: no `nodetool repair`, which needs JMX. Idempotent.
 * Returns a short description.
 */
export async function formCqlCluster(config: StackConfig): Promise<string> {
  const nodes = cqlNodes(config);
  const first = nodes[0];
  if (!first || nodes.length === 1) return 'one node';
  const endpoints = stackEndpoints(config);
  const replicas = Math.min(3, nodes.length);
  // Where node 1 listens: a fault proxy in front of it is not up yet.
  const client = nodeClient(
    endpoints,
    { host: first.listenHost, port: first.port },
    {
      connectTimeout: 5_000,
      readTimeout: 20_000,
    },
  );
  try {
    await client.execute(
      `ALTER KEYSPACE system_auth WITH replication = {'class': 'NetworkTopologyStrategy', '${endpoints.cqlLocalDataCenter}': ${replicas}}`,
    );
    await client.execute('SELECT * FROM system_auth.roles WHERE role = ?', [endpoints.cqlCredentials.username], {
      consistency: cassandra.types.consistencies.all,
    });
    return `${nodes.length} nodes, roles on ${replicas} replicas`;
  } finally {
    await client.shutdown().catch(() => {});
  }
}
