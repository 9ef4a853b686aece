import { describe, expect, it } from 'vitest';
import { zonedTime } from '../../../src/windows/calendar.js';
import { createLocalDayCache } from '../../../src/windows/local-day.js';

describe('the local day cache', () => {
  it('moves to the next day exactly at local midnight and follows a timezone change', () => {
    const localDay = createLocalDayCache();
    const midnight = zonedTime(2026, 12, 1, 'Europe/Berlin');
    expect(localDay(midnight - 1, 'Europe/Berlin')).toMatchObject({ day: '2026-11-30', month: '2026-11' });
    expect(localDay(midnight, 'Europe/Berlin')).toMatchObject({ day: '2026-12-01', month: '2026-12' });
    expect(localDay(midnight, 'America/New_York')).toMatchObject({ day: '2026-11-30', month: '2026-11' });
    expect(localDay(midnight - 1, 'Europe/Berlin')).toMatchObject({ day: '2026-11-30' });
  });
});
