import type avro from 'avsc';
import { describe, expect, it } from 'vitest';
import { compileSchema, readerCompatibility } from '../../../lib/codec';

const record = (fields: unknown[], name = 'Event'): avro.Schema => ({ type: 'record', name, fields }) as avro.Schema;
const check = (reader: avro.Schema, writer: avro.Schema) =>
  readerCompatibility(compileSchema(reader), compileSchema(writer));

describe('a reader schema against a writer version', () => {
  const reader = record([
    { name: 'id', type: 'string' },
    { name: 'count', type: 'long' },
    { name: 'source', type: 'string', default: 'web' },
    { name: 'user', type: 'string', aliases: ['userId'] },
  ]);

  it('sorts its fields into read (by name or alias, promotions included), defaulted and ignored', () => {
    const writer = record([
      { name: 'id', type: 'string' },
      { name: 'count', type: 'int' },
      { name: 'userId', type: 'string' },
      { name: 'extra', type: 'double' },
    ]);
    expect(check(reader, writer)).toEqual({
      read: ['id', 'count', 'user'],
      defaulted: ['source'],
      ignored: ['extra'],
      problems: [],
    });
  });

  it('names the field and both types when a type cannot be read', () => {
    const writer = record([
      { name: 'id', type: 'string' },
      { name: 'count', type: 'string' },
      { name: 'user', type: 'string' },
    ]);
    const { problems } = check(reader, writer);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^count: the reader's "long" cannot read the writer's "string"/);
  });

  it('names a field the writer lacks when the reader gives it no default', () => {
    const writer = record([
      { name: 'id', type: 'string' },
      { name: 'count', type: 'long' },
    ]);
    expect(check(reader, writer).problems).toEqual(['user: not in the writer schema, and the reader gives no default']);
  });

  it('refuses a writer record of another name (no alias)', () => {
    const writer = record(
      [
        { name: 'id', type: 'string' },
        { name: 'count', type: 'long' },
        { name: 'user', type: 'string' },
      ],
      'Other',
    );
    expect(check(reader, writer).problems).toEqual([expect.stringContaining('Other')]);
  });
});
