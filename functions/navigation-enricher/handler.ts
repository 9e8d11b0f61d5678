import { composeProcessor, integer } from '../../lib/runtime';
import { navigationEnricher, READER_SCHEMA } from './definition';

const ttlSeconds = integer(process.env, 'NAVIGATION_TTL_SECONDS', 90 * 86_400, { min: 0, max: 630_720_000 });
export const handler = composeProcessor(navigationEnricher({ ttlSeconds }), READER_SCHEMA, process.env);
