import { composeProcessor } from '../../lib/runtime';
import { fromEnvironment, READER_SCHEMA } from './definition';

export const handler = composeProcessor(fromEnvironment(process.env), READER_SCHEMA, process.env);
