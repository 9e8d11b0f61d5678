import type { SchemaRegistry as KafkajsSchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type cassandra from 'cassandra-driver';
import type { Handler } from '../dev/esm/runner';
import {
  INSERT as INSERT_STATEMENT,
  LOOKUP,
  type NavigationView,
  navigationRow,
} from '../functions/navigation-enricher/definition';
import type { MskEvent } from '../lib/runtime/msk-event';

/**
 * The benches' naive navigation-enricher: what a first Lambda handler usually looks like. Decodes each record with
 * @kafkajs/confluent-schema-registry (an async registry lookup each time), then awaits its SELECT and its INSERT, one
 * record after another; poison is skipped (no dead-letter path). The same rows as ours.
 */
export function naiveHandler(client: cassandra.Client, registry: KafkajsSchemaRegistry): Handler {
  return async (event: MskEvent) => {
    for (const records of Object.values(event.records)) {
      for (const record of records) {
        let n: NavigationView;
        try {
          n = (await registry.decode(Buffer.from(record.value ?? '', 'base64'))) as NavigationView;
        } catch {
          continue;
        }
        if (n.consent === 'DENIED') continue;
        const userId =
          n.userId ??
          ((await client.execute(LOOKUP.cql, [n.cookieId], { prepare: true })).first()?.get('user_id') as
            | string
            | null) ??
          null;
        await client.execute(INSERT_STATEMENT.cql, navigationRow(n, userId, 7_776_000), { prepare: true });
      }
    }
    return { batchItemFailures: [] };
  };
}
