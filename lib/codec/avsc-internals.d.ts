/** avsc's byte cursor module: not in its public typings, stable since avsc 5.0 (see decoder.ts). */
declare module 'avsc/lib/utils' {
  export class Tap {
    constructor(buf: Buffer, pos?: number);
    buf: Buffer;
    pos: number;
  }
}

/** avsc's type system alone (lib/types.js): what `import 'avsc'` re-exports, without its containers and services. */
declare module 'avsc/lib/types.js' {
  const types: { Type: unknown; builtins: unknown };
  export default types;
}
