/**
 * The few protobuf encodings a Prometheus remote-write request needs (varint, length-delimited, fixed64 double).
 * Written by hand: the schema is three small, frozen messages (prompb WriteRequest/TimeSeries/Label/Sample), and a
 * general protobuf library would add more to every function bundle than this whole file.
 */
export class ProtoWriter {
  private buf: Buffer;
  private pos = 0;

  constructor(initialBytes = 256) {
    this.buf = Buffer.allocUnsafe(initialBytes);
  }

  private ensure(bytes: number): void {
    if (this.pos + bytes <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + bytes));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  varint(value: number): void {
    this.ensure(10);
    let v = value;
    while (v > 0x7f) {
      this.buf[this.pos++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buf[this.pos++] = v;
  }

  tag(field: number, wireType: 0 | 1 | 2): void {
    this.varint((field << 3) | wireType);
  }

  string(field: number, value: string): void {
    const length = Buffer.byteLength(value);
    this.tag(field, 2);
    this.varint(length);
    this.ensure(length);
    this.pos += this.buf.write(value, this.pos);
  }

  double(field: number, value: number): void {
    this.tag(field, 1);
    this.ensure(8);
    this.pos = this.buf.writeDoubleLE(value, this.pos);
  }

  /** int64 as a varint (two's complement for negatives is not needed: timestamps are positive). */
  int64(field: number, value: number): void {
    this.tag(field, 0);
    this.varint(value);
  }

  /** Writes a length-delimited sub-message built by `body`. */
  message(field: number, body: (writer: ProtoWriter) => void): void {
    const inner = new ProtoWriter();
    body(inner);
    const bytes = inner.finish();
    this.tag(field, 2);
    this.varint(bytes.length);
    this.ensure(bytes.length);
    bytes.copy(this.buf, this.pos);
    this.pos += bytes.length;
  }

  finish(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}
