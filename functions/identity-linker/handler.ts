import { composeProcessor } from '../../lib/runtime';
import { identityLinker, READER_SCHEMA } from './definition';

export const handler = composeProcessor(identityLinker, READER_SCHEMA, process.env);
