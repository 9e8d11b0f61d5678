import type avro from 'avsc';
import { compileSchema } from './avro-types';
import { frameConfluentV0 } from './framing';
import type { ConfluentSchemaRegistry } from './registry/confluent';

/** Writes values of one schema as Confluent v0 records. */
export interface SubjectEncoder<T> {
  readonly id: number;
  readonly type: avro.Type;
  encode(value: T): Buffer;
}

/**
 * The producer side (demo stream, tests, tools): registers a schema under a subject once (or finds the id it
 * already has: registration is idempotent) and frames encoded values with that id.
 */
export class AvroEncoder {
  private readonly subjects = new Map<string, Promise<SubjectEncoder<unknown>>>();

  constructor(private readonly registry: ConfluentSchemaRegistry) {}

  forSubject<T>(subject: string, schema: avro.Schema): Promise<SubjectEncoder<T>> {
    const text = JSON.stringify(schema);
    const key = `${subject}\n${text}`;
    let encoder = this.subjects.get(key);
    if (!encoder) {
      encoder = this.registry.register(subject, text).then((id) => {
        const type = compileSchema(schema);
        return { id, type, encode: (value: unknown) => frameConfluentV0(id, type.toBuffer(value)) };
      });
      // A failed registration is not cached: the next call asks again.
      encoder.catch(() => this.subjects.delete(key));
      this.subjects.set(key, encoder);
    }
    return encoder as Promise<SubjectEncoder<T>>;
  }
}
