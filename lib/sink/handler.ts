import { requireString } from '../config';
import { composeProcessor } from '../runtime/compose';
import { parseTableSinkConfig } from './config';
import { tableSink } from './table-sink';

/**
 * The table sink's Lambda handler: one bundle (`table-sink`) for every sink an environment declares, each deployed
 * as its own function with its own SINK_NAME and SINK_CONFIG. Values are read with their writer's schema, as
 * written: the mapping names the fields, so every version a producer registers is read without a reader schema.
 */
export const handler = composeProcessor(
  tableSink(requireString(process.env, 'SINK_NAME'), parseTableSinkConfig(process.env)),
  undefined,
  process.env,
);
