import { describe, expect, it } from 'vitest';
import { autoBucket, deviceOptions, filtersToParams, isoSeconds, localDateString, parseFilters, parseLocalDate, resolveWindow } from './filters';

const q = (s: string) => new URLSearchParams(s);
// 2026-11-30 15:20 local time.
const now = new Date(2026, 10, 30, 15, 20, 0);

describe('parseFilters / filtersToParams', () => {
  it('defaults to today and round-trips the filters', () => {
    expect(parseFilters(q(''))).toEqual({ range: 'today' });
    const f = parseFilters(q('range=7d&line=L1&product_code=P-1&lot=LOT9&device_id=d1&junk=1'));
    expect(f).toEqual({ range: '7d', line: 'L1', product_code: 'P-1', lot: 'LOT9', device_id: 'd1' });
    expect(filtersToParams(f).toString()).toBe('range=7d&line=L1&product_code=P-1&device_id=d1&lot=LOT9');
    expect(parseFilters(filtersToParams(f))).toEqual(f);
  });

  it('leaves the default range out of the URL', () => {
    expect(filtersToParams({ range: 'today', line: 'L2' }).toString()).toBe('line=L2');
  });

  it('falls back to today for an unknown range and drops bad custom days', () => {
    expect(parseFilters(q('range=year')).range).toBe('today');
    expect(parseFilters(q('range=custom&from=2026-02-30&to=2026-03-02'))).toEqual({ range: 'custom', to: '2026-03-02' });
    // from/to only mean something with range=custom.
    expect(parseFilters(q('from=2026-03-01'))).toEqual({ range: 'today' });
  });
});

describe('dates', () => {
  it('reads and writes local calendar days', () => {
    expect(localDateString(new Date(2026, 0, 5, 23, 59))).toBe('2026-01-05');
    expect(parseLocalDate('2026-01-05')?.getTime()).toBe(new Date(2026, 0, 5).getTime());
    expect(parseLocalDate('2026-13-01')).toBeNull();
    expect(parseLocalDate('yesterday')).toBeNull();
  });

  it('writes RFC 3339 without milliseconds', () => {
    expect(isoSeconds(new Date(Date.UTC(2026, 10, 30, 1, 2, 3, 456)))).toBe('2026-11-30T01:02:03Z');
  });
});

describe('resolveWindow', () => {
  it('today is local midnight to the next midnight, hourly', () => {
    const w = resolveWindow({ range: 'today' }, now);
    expect(w.since).toEqual(new Date(2026, 10, 30));
    expect(w.until).toEqual(new Date(2026, 11, 1));
    expect(w.bucket).toBe('hour');
  });

  it('7 and 30 days include today, daily', () => {
    const w7 = resolveWindow({ range: '7d' }, now);
    expect(w7.since).toEqual(new Date(2026, 10, 24));
    expect(w7.until).toEqual(new Date(2026, 11, 1));
    expect(w7.bucket).toBe('day');
    const w30 = resolveWindow({ range: '30d' }, now);
    expect(w30.since).toEqual(new Date(2026, 10, 1));
    expect(w30.bucket).toBe('day');
  });

  it('custom covers whole days, swaps reversed ends, and is hourly up to two days', () => {
    const two = resolveWindow({ range: 'custom', from: '2026-11-01', to: '2026-11-02' }, now);
    expect(two.since).toEqual(new Date(2026, 10, 1));
    expect(two.until).toEqual(new Date(2026, 10, 3));
    expect(two.bucket).toBe('hour');
    const three = resolveWindow({ range: 'custom', from: '2026-11-03', to: '2026-11-01' }, now);
    expect(three.since).toEqual(new Date(2026, 10, 1));
    expect(three.until).toEqual(new Date(2026, 10, 4));
    expect(three.bucket).toBe('day');
  });

  it('custom without ends is the last seven days', () => {
    const w = resolveWindow({ range: 'custom' }, now);
    expect(w.since).toEqual(new Date(2026, 10, 24));
    expect(w.until).toEqual(new Date(2026, 11, 1));
  });

  it('autoBucket switches to days beyond two days', () => {
    const a = new Date(2026, 0, 1);
    expect(autoBucket(a, new Date(2026, 0, 3))).toBe('hour');
    expect(autoBucket(a, new Date(2026, 0, 3, 2))).toBe('day');
  });
});

describe('deviceOptions', () => {
  const fleet = [
    { id: 'd-2', name: 'Camera B', line: 'L2' },
    { id: 'd-1', name: 'Camera A', line: 'L1' },
    { id: 'd-3', name: '', line: 'L1' },
  ];
  it('lists the devices of the line by name, labelled with their id', () => {
    expect(deviceOptions(fleet, undefined, undefined)).toEqual([
      { id: 'd-1', label: 'Camera A (d-1)' },
      { id: 'd-2', label: 'Camera B (d-2)' },
      { id: 'd-3', label: 'd-3' },
    ]);
    expect(deviceOptions(fleet, 'L2', undefined).map((o) => o.id)).toEqual(['d-2']);
  });
  it('keeps the selected device, also one the fleet does not know', () => {
    expect(deviceOptions(fleet, 'L2', 'd-1').map((o) => o.id)).toEqual(['d-1', 'd-2']);
    expect(deviceOptions(fleet, undefined, 'gone').at(-1)).toEqual({ id: 'gone', label: 'gone' });
  });
});
