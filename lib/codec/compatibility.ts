import type avro from 'avsc';

/** How a reader schema reads one writer version: its record fields by fate, and why it cannot, if it cannot. */
export interface ReaderCompatibility {
  /** Reader fields found in the writer (by name or alias) and readable from its type. */
  read: string[];
  /** Reader fields the writer lacks: filled from their defaults. */
  defaulted: string[];
  /** Writer fields the reader does not name: skipped over. */
  ignored: string[];
  /** Why records of this writer version would be poison (field and types); empty when they resolve. */
  problems: string[];
}

const short = (type: avro.Type) => {
  const text = JSON.stringify(type.schema());
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
};

/**
 * Whether `reader` resolves `writer` (Avro schema resolution, as the decoder will do it: avsc's `createResolver`),
 * explained field by field so a failure names the field and both types. The decoder itself never needs this: it
 * tries the resolution once per writer schema; this is for the compatibility gate (`npm run schemas:check`).
 */
export function readerCompatibility(reader: avro.Type, writer: avro.Type): ReaderCompatibility {
  const result: ReaderCompatibility = { read: [], defaulted: [], ignored: [], problems: [] };
  if (reader.typeName === 'record' && writer.typeName === 'record') {
    const writerFields = (writer as avro.types.RecordType).fields;
    const matched = new Set<string>();
    for (const field of (reader as avro.types.RecordType).fields) {
      const names = [field.name, ...field.aliases];
      const source = writerFields.find((candidate) => names.includes(candidate.name));
      if (!source) {
        if (field.defaultValue() === undefined)
          result.problems.push(`${field.name}: not in the writer schema, and the reader gives no default`);
        else result.defaulted.push(field.name);
        continue;
      }
      matched.add(source.name);
      try {
        field.type.createResolver(source.type);
        result.read.push(field.name);
      } catch (error) {
        result.problems.push(
          `${field.name}: the reader's ${short(field.type)} cannot read the writer's ${short(source.type)} (${(error as Error).message})`,
        );
      }
    }
    result.ignored = writerFields.filter((f) => !matched.has(f.name)).map((f) => f.name);
  }
  if (result.problems.length === 0) {
    try {
      reader.createResolver(writer);
    } catch (error) {
      result.problems.push((error as Error).message); // not a field: the record's name, or a non-record schema
    }
  }
  return result;
}
