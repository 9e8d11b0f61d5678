import type avro from 'avsc';
import avscTypes from 'avsc/lib/types.js';

/**
 * avsc's type system, imported alone. `import 'avsc'` also loads its file containers, RPC services and zlib,
 * which the codec never uses; leaving them out of the bundle shortens every cold start (measured with
 * `npm run bench:cold-start`). These are the very objects `avsc` re-exports.
 */
export const Type = avscTypes.Type as typeof avro.Type;
export const types = avscTypes.builtins as typeof avro.types;
