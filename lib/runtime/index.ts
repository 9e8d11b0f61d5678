/**
 * The function author's one import: what a processor's definition, handler and migrations use. Everything else in
 * lib/ is the runtime's own business.
 */
export { type Env, flag, integer, oneOf, optionalString, requireString } from '../config';
export type { WriteExecutor } from '../scylla/executor';
export type { Migration } from '../scylla/migrations';
export { type Statement, statement } from '../scylla/statement';
export { writeTimestamp } from '../scylla/write-time';
export { composeProcessor } from './compose';
export { ValidationError } from './errors';
export type { Outcome, ProcessorDefinition, RecordContext, Skip, Write } from './processor';
export { requireEventTime } from './validation';
