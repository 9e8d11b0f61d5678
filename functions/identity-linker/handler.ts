import { composeProcessor } from '../../lib/runtime/compose';
import { identityLinker, READER_SCHEMA } from './definition';

export const handler = composeProcessor(identityLinker, READER_SCHEMA, process.env);
