/**
 * The write time of a record: `USING TIMESTAMP` in microseconds, derived from the record itself so that a replay
 * or a late duplicate writes the same cells with the same timestamp (Scylla keeps the newest cell: the result does
 * not depend on the order writes arrive in).
 *
 * Milliseconds carry the event (or Kafka) time; the three sub-millisecond digits carry the record's offset within
 * its partition modulo 1000. Two records with the same millisecond then still have distinct, ordered timestamps
 * (the Kafka Connect Scylla sink's bug #20: equal timestamps make the later write lose). Within one millisecond the
 * later offset wins, as long as fewer than 1000 offsets separate them.
 */
/** The latest millisecond whose write time (µs, plus the offset digits) is still an exact number: year 2255. */
export const MAX_WRITE_TIME_MS = Math.floor((Number.MAX_SAFE_INTEGER - 999) / 1000);

export function writeTimestamp(timeMs: number, offset: number): number {
  if (!Number.isSafeInteger(timeMs) || timeMs < 0 || timeMs > MAX_WRITE_TIME_MS)
    throw new RangeError(`write time must be epoch milliseconds up to ${MAX_WRITE_TIME_MS}, got ${timeMs}`);
  return timeMs * 1000 + (offset % 1000);
}
