import { composeProcessor, integer } from '../../lib/runtime';
import { READER_SCHEMA, segmentBuilder } from './definition';

const ttlSeconds = integer(process.env, 'SEGMENT_TTL_SECONDS', 30 * 86_400, { min: 0, max: 630_720_000 });
const refreshMs = integer(process.env, 'SEGMENT_RULES_REFRESH_MS', 60_000, { min: 1_000, max: 86_400_000 });
export const handler = composeProcessor(segmentBuilder({ ttlSeconds, refreshMs }), READER_SCHEMA, process.env);
