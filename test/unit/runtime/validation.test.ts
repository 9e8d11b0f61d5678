import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../lib/runtime/errors';
import { requireEventTime } from '../../../lib/runtime/validation';
import { MAX_WRITE_TIME_MS, writeTimestamp } from '../../../lib/scylla/write-time';

describe('an event time', () => {
  it.each([
    ['a long past 2^53 (decoded as BigInt)', 2n ** 60n],
    ['a fraction', 1.5],
    ['zero', 0],
    ['negative', -1],
    ['past the last exact write time', MAX_WRITE_TIME_MS + 1],
    ['not a number', Number.NaN],
    ['a string', '1700000000000'],
  ])('is refused as a poison record when it is %s', (_, value) => {
    expect(() => requireEventTime(value)).toThrow(ValidationError);
  });

  it('is accepted up to the last millisecond whose write time is exact, and gives that write time', () => {
    expect(requireEventTime(1_700_000_000_000)).toBe(1_700_000_000_000);
    expect(requireEventTime(MAX_WRITE_TIME_MS)).toBe(MAX_WRITE_TIME_MS);
    expect(Number.isSafeInteger(writeTimestamp(MAX_WRITE_TIME_MS, 999))).toBe(true);
  });
});
