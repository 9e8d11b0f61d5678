/** avsc's byte cursor module: not in its public typings, stable since avsc 5.0 (see decoder.ts). */
declare module 'avsc/lib/utils' {
  export class Tap {
    constructor(buf: Buffer, pos?: number);
    buf: Buffer;
    pos: number;
  }
}
