import { describe, expect, it } from 'vitest';
import { activeCount, dateInputValue, emptyFilters, filtersToQuery, fromDateInput, parseFilters, toSearchQuery, untilInputValue } from './filters';

describe('filters ↔ URL', () => {
  it('reads a dashboard deep link', () => {
    const f = parseFilters(new URLSearchParams('line=L1&verdict=NG&since=2026-11-01T00:00:00Z&defect_type=scratch&shift=night'));
    expect(f).toEqual({ ...emptyFilters, line: 'L1', verdict: 'NG', since: '2026-11-01T00:00:00.000Z', defect_type: 'scratch', shift: 'night' });
  });

  it('accepts lower-case verdicts, aliases and boolean acknowledged', () => {
    const f = parseFilters(new URLSearchParams('verdict=ok&product=P-1&device=dev-9&acknowledged=false'));
    expect(f.verdict).toBe('OK');
    expect(f.product_code).toBe('P-1');
    expect(f.device_id).toBe('dev-9');
    expect(f.acknowledged).toBe('no');
    expect(parseFilters(new URLSearchParams('ack=true')).acknowledged).toBe('yes');
  });

  it('drops malformed and unknown values', () => {
    const f = parseFilters(new URLSearchParams('verdict=maybe&since=yesterday&acknowledged=perhaps&foo=bar&line='));
    expect(f).toEqual(emptyFilters);
  });

  it('canonical names win over aliases, first value wins', () => {
    expect(parseFilters(new URLSearchParams('product_code=A&product=B')).product_code).toBe('A');
    expect(parseFilters(new URLSearchParams('line=L1&line=L2')).line).toBe('L1');
  });

  it('round-trips through the query in a stable order', () => {
    const f = { ...emptyFilters, verdict: 'NG' as const, line: 'L2', lot: 'LOT 7', acknowledged: 'yes' as const, until: '2026-11-30T00:00:00.000Z' };
    const q = filtersToQuery(f);
    expect(q.toString()).toBe('line=L2&lot=LOT+7&verdict=NG&acknowledged=yes&until=2026-11-30T00%3A00%3A00.000Z');
    expect(parseFilters(q)).toEqual(f);
    expect(filtersToQuery(emptyFilters).toString()).toBe('');
    expect(activeCount(f)).toBe(5);
  });

  it('maps to the search API: lower-case verdict, boolean acknowledged, paging', () => {
    const f = { ...emptyFilters, verdict: 'OK' as const, acknowledged: 'no' as const, product_code: 'P', shift: 'day' };
    expect(toSearchQuery(f, 50, 'tok')).toEqual({ limit: 50, product_code: 'P', shift: 'day', verdict: 'ok', acknowledged: false, page_token: 'tok' });
    expect(toSearchQuery(emptyFilters, 100)).toEqual({ limit: 100 });
  });

  it('date inputs: since is the start of the day, until includes the picked day', () => {
    const since = fromDateInput('2026-11-02', 'since');
    const until = fromDateInput('2026-11-02', 'until');
    expect(new Date(until).getTime() - new Date(since).getTime()).toBe(24 * 3600 * 1000);
    expect(dateInputValue(since)).toBe('2026-11-02');
    expect(untilInputValue(until)).toBe('2026-11-02');
    expect(fromDateInput('', 'since')).toBe('');
    expect(fromDateInput('2026-13-45x', 'since')).toBe('');
  });

  it('a bare date in a link means local midnight', () => {
    const f = parseFilters(new URLSearchParams('since=2026-11-02'));
    expect(f.since).toBe(new Date('2026-11-02T00:00:00').toISOString());
  });
});
