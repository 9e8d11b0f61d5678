import type { FunctionName } from '../functions/catalog';

/**
 * The three processors the project ships as its example. Tests about them (the example environment's stack, its
 * snapshot, the RIE runs) name them here rather than iterating the catalog, so a team's own function added with
 * `npm run new` leaves them as they are; tests of what every function gets iterate `FUNCTIONS`.
 */
export const DEMO_FUNCTIONS: readonly FunctionName[] = ['identity-linker', 'navigation-enricher', 'segment-builder'];
