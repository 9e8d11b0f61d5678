import { type DedicatedCqlCluster, dedicatedCqlCluster } from '../stack/dedicated';
import { CqlFaultProxy } from './cql-proxy';

export interface ProxiedCluster {
  cluster: DedicatedCqlCluster;
  /** One per node, in node order, listening where the driver is told the node is. */
  proxies: CqlFaultProxy[];
  stop(): Promise<void>;
}

/**
 * A CQL cluster of its own with a fault proxy in front of every node: the nodes tell clients the proxies' addresses
 * (broadcast_rpc_address), so a driver given any of them discovers the ring and opens every pool through the proxies,
 * with no address translation in the client under test. `random` is passed to every proxy (reproducible runs).
 */
export async function startProxiedCluster(options: {
  nodes: number;
  offset: number;
  random?: () => number;
}): Promise<ProxiedCluster> {
  const cluster = dedicatedCqlCluster({ nodes: options.nodes, offset: options.offset, behindProxies: true });
  await cluster.start();
  const proxies = cluster.nodes.map(
    (node) =>
      new CqlFaultProxy({
        upstream: { host: node.listenHost, port: node.port },
        listen: { host: node.host, port: node.port },
        random: options.random,
      }),
  );
  try {
    await Promise.all(proxies.map((proxy) => proxy.start()));
  } catch (error) {
    await Promise.all(proxies.map((proxy) => proxy.stop().catch(() => {})));
    await cluster.stop();
    throw error;
  }
  return {
    cluster,
    proxies,
    async stop() {
      await Promise.all(proxies.map((proxy) => proxy.stop()));
      await cluster.stop();
    },
  };
}
