import { afterEach, describe, expect, it } from 'vitest';
import { deadLetterDay } from '../../../lib/runtime/dead-letters';

const zone = process.env.TZ;
afterEach(() => {
  if (zone === undefined) delete process.env.TZ;
  else process.env.TZ = zone;
});

describe('the dead_letters partition of a record', () => {
  it('is the UTC day of the record timestamp', () => {
    expect(deadLetterDay(Date.UTC(2026, 10, 25, 0, 0, 0)).toString()).toBe('2026-11-25');
    expect(deadLetterDay(Date.UTC(2026, 10, 25, 23, 59, 59, 999)).toString()).toBe('2026-11-25');
    expect(deadLetterDay(Date.UTC(2024, 1, 29, 12)).toString()).toBe('2024-02-29');
    expect(deadLetterDay(0).toString()).toBe('1970-01-01');
  });

  it('does not move with the time zone of the process (UTC+14 and UTC-11 agree)', () => {
    const lateEvening = Date.UTC(2026, 10, 25, 22, 30);
    const earlyMorning = Date.UTC(2026, 10, 25, 0, 30);
    for (const tz of ['Pacific/Kiritimati', 'Pacific/Pago_Pago', 'UTC']) {
      process.env.TZ = tz;
      expect(deadLetterDay(lateEvening).toString()).toBe('2026-11-25');
      expect(deadLetterDay(earlyMorning).toString()).toBe('2026-11-25');
    }
  });
});
