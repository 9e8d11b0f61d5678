import type { Consistency } from './config';

/**
 * A CQL statement a function runs, declared once (at module load) and prepared on first use. `kind` names it in
 * metrics; `idempotent` says whether running it twice is harmless, which alone allows retries.
 */
export interface Statement {
  readonly kind: string;
  readonly cql: string;
  readonly idempotent: boolean;
  readonly consistency?: Consistency;
}

export function statement(
  kind: string,
  cql: string,
  options: { idempotent: boolean; consistency?: Consistency },
): Statement {
  return Object.freeze({ kind, cql: cql.replace(/\s+/g, ' ').trim(), ...options });
}
