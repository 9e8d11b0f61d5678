import { readFileSync } from 'node:fs';
import cassandra from 'cassandra-driver';
import type { StackEndpoints } from './config';

/**
 * cassandra-driver options that keep every connection on one endpoint (a fault proxy, or one node of a cluster the
 * stack probes node by node): a node advertises addresses in system.local and system.peers, and the driver would
 * otherwise open its pools to them.
 */
export function pinnedTo(address: { host: string; port: number }): {
  contactPoints: string[];
  policies: { addressResolution: cassandra.policies.addressResolution.AddressTranslator };
} {
  const endpoint = `${address.host}:${address.port}`;
  // The driver checks `instanceof AddressTranslator`, a class its typings declare as an interface.
  const { AddressTranslator: Translator } = cassandra.policies.addressResolution as unknown as {
    AddressTranslator: new () => cassandra.policies.addressResolution.AddressTranslator;
  };
  const toProxy = Object.assign(new Translator(), {
    translate: (_address: string, _port: number, callback: (endpoint: string) => void) => callback(endpoint),
  });
  return { contactPoints: [endpoint], policies: { addressResolution: toProxy } };
}

/** A client of one CQL node of the local stack (where it listens), logged in as the stack's superuser. */
export function nodeClient(
  endpoints: StackEndpoints,
  node: { host: string; port: number },
  timeouts: { connectTimeout: number; readTimeout: number },
): cassandra.Client {
  return new cassandra.Client({
    ...pinnedTo(node),
    localDataCenter: endpoints.cqlLocalDataCenter,
    authProvider: new cassandra.auth.PlainTextAuthProvider(
      endpoints.cqlCredentials.username,
      endpoints.cqlCredentials.password,
    ),
    socketOptions: timeouts,
    pooling: { warmup: false },
    sslOptions: endpoints.cqlTlsCaFile
      ? { ca: [readFileSync(endpoints.cqlTlsCaFile, 'utf8')], rejectUnauthorized: true }
      : undefined,
  });
}
