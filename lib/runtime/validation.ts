import { MAX_WRITE_TIME_MS } from '../scylla/write-time';
import { ValidationError } from './errors';

/**
 * A record's event time as epoch milliseconds a write can carry, or a `ValidationError` (the record is poison).
 * Avro longs beyond ±2^53 decode as BigInt, and a number can be fractional, negative or past year 2255: each made
 * `new Date()` or the write time throw a TypeError or RangeError, which failed the whole batch again on every
 * retry instead of dead-lettering one record (found by `npm run fuzz`).
 */
export function requireEventTime(value: unknown, field = 'eventTime'): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0 || value > MAX_WRITE_TIME_MS)
    throw new ValidationError(
      `${field} ${String(value)} is not a time (epoch milliseconds up to ${MAX_WRITE_TIME_MS})`,
    );
  return value;
}
