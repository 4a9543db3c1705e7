import { describe, expect, it } from 'vitest';
import { bucketEnd, drillTarget, recordsURL } from './drill';
import type { DashboardFilters, TimeWindow } from './filters';
import type { Stats } from './stats';

const win: TimeWindow = { since: new Date('2026-11-30T00:00:00Z'), until: new Date('2026-12-01T00:00:00Z'), bucket: 'hour' };
const filters: DashboardFilters = { range: 'today', line: 'L1', product_code: 'P-1' };

const c = (total: number, ng: number) => ({ total, ok: total - ng, ng, yield: total ? (total - ng) / total : 0 });
const stats: Stats = {
  ...c(30, 6),
  by_line: [{ key: 'L1', ...c(20, 4) }, { key: 'L2', ...c(10, 2) }],
  by_product: [{ key: 'P-1', ...c(30, 6) }],
  by_shift: [{ key: 'A', ...c(10, 1) }, { key: 'B', ...c(20, 5) }, { key: 'C', ...c(0, 0) }],
  trend: [
    { start: '2026-11-30T08:00:00Z', ...c(10, 2) },
    { start: '2026-11-30T09:00:00Z', ...c(20, 4) },
  ],
  // Deliberately not sorted: the chart sorts, and so must the click mapping.
  pareto: [
    { defect_type: 'dent', count: 2 },
    { defect_type: 'scratch', count: 4 },
  ],
};

const parse = (url: string) => {
  const [path, query] = url.split('?');
  return { path, q: Object.fromEntries(new URLSearchParams(query)) };
};

describe('recordsURL', () => {
  it('carries the dashboard filters and window', () => {
    expect(recordsURL({ ...filters, lot: 'LOT-7', device_id: 'd1' }, win, { kind: 'all' })).toBe(
      '/records?line=L1&device_id=d1&product_code=P-1&lot=LOT-7&since=2026-11-30T00%3A00%3A00Z&until=2026-12-01T00%3A00%3A00Z',
    );
  });

  it('adds the verdict of the NG tile', () => {
    expect(parse(recordsURL(filters, win, { kind: 'all', verdict: 'NG' })).q.verdict).toBe('NG');
  });

  it('a line, product or shift replaces or adds that filter', () => {
    expect(parse(recordsURL(filters, win, { kind: 'line', key: 'L2', verdict: 'NG' })).q).toMatchObject({ line: 'L2', verdict: 'NG', product_code: 'P-1' });
    expect(parse(recordsURL({ range: 'today' }, win, { kind: 'product', key: 'P-9' })).q).toEqual({
      product_code: 'P-9',
      since: '2026-11-30T00:00:00Z',
      until: '2026-12-01T00:00:00Z',
    });
    expect(parse(recordsURL(filters, win, { kind: 'shift', key: 'B', verdict: 'OK' })).q).toMatchObject({ line: 'L1', shift: 'B', verdict: 'OK' });
  });

  it('a defect selects its NG records', () => {
    expect(parse(recordsURL(filters, win, { kind: 'defect', defectType: 'scratch' })).q).toMatchObject({ defect_type: 'scratch', verdict: 'NG' });
  });

  it('a bucket narrows since/until, clipped to the window', () => {
    const day: TimeWindow = { since: new Date('2026-11-30T03:00:00Z'), until: new Date('2026-12-02T03:00:00Z'), bucket: 'day' };
    const { q } = parse(
      recordsURL(filters, day, { kind: 'bucket', start: new Date('2026-11-29T15:00:00Z'), end: new Date('2026-11-30T15:00:00Z'), verdict: 'NG' }),
    );
    expect(q).toMatchObject({ since: '2026-11-30T03:00:00Z', until: '2026-11-30T15:00:00Z', verdict: 'NG' });
  });
});

describe('bucketEnd', () => {
  it('is the next point, or one bucket after the last', () => {
    expect(bucketEnd(stats.trend, 0, 'hour').toISOString()).toBe('2026-11-30T09:00:00.000Z');
    expect(bucketEnd(stats.trend, 1, 'hour').toISOString()).toBe('2026-11-30T10:00:00.000Z');
    const d = bucketEnd([{ start: new Date(2026, 10, 30).toISOString(), ...c(1, 0) }], 0, 'day');
    expect(d.getTime()).toBe(new Date(2026, 11, 1).getTime());
  });
});

describe('drillTarget', () => {
  it('maps a trend NG bar to its bucket with verdict NG, and the yield point to all its records', () => {
    expect(drillTarget('trend', { componentType: 'series', seriesId: 'ng', dataIndex: 1 }, stats, 'hour')).toEqual({
      kind: 'bucket',
      start: new Date('2026-11-30T09:00:00Z'),
      end: new Date('2026-11-30T10:00:00Z'),
      verdict: 'NG',
    });
    expect(drillTarget('trend', { componentType: 'series', seriesId: 'yield', dataIndex: 0 }, stats, 'hour')).toMatchObject({ verdict: undefined });
  });

  it('maps a Pareto bar or cumulative point to its defect in drawn (sorted) order', () => {
    expect(drillTarget('pareto', { componentType: 'series', seriesId: 'count', dataIndex: 0 }, stats, 'hour')).toEqual({ kind: 'defect', defectType: 'scratch' });
    expect(drillTarget('pareto', { componentType: 'series', seriesId: 'cumulative', dataIndex: 1 }, stats, 'hour')).toEqual({ kind: 'defect', defectType: 'dent' });
  });

  it('maps breakdown bars by series and axis labels by key', () => {
    expect(drillTarget('line', { componentType: 'series', seriesId: 'ng', dataIndex: 1 }, stats, 'hour')).toEqual({ kind: 'line', key: 'L2', verdict: 'NG' });
    expect(drillTarget('shift', { componentType: 'series', seriesId: 'ok', dataIndex: 0 }, stats, 'hour')).toEqual({ kind: 'shift', key: 'A', verdict: 'OK' });
    expect(drillTarget('product', { componentType: 'xAxis', value: 'P-1' }, stats, 'hour')).toEqual({ kind: 'product', key: 'P-1', verdict: undefined });
    expect(drillTarget('pareto', { componentType: 'xAxis', value: 'dent' }, stats, 'hour')).toEqual({ kind: 'defect', defectType: 'dent' });
  });

  it('ignores clicks that hit nothing', () => {
    expect(drillTarget('line', { componentType: 'xAxis', value: 'L9' }, stats, 'hour')).toBeNull();
    expect(drillTarget('trend', { componentType: 'series', seriesId: 'ng', dataIndex: 7 }, stats, 'hour')).toBeNull();
    expect(drillTarget('pareto', {}, stats, 'hour')).toBeNull();
  });

  it('end to end: the NG bar of line L2 opens its NG records in the window', () => {
    const t = drillTarget('line', { componentType: 'series', seriesId: 'ng', dataIndex: 1 }, stats, 'hour');
    expect(t && recordsURL(filters, win, t)).toBe(
      '/records?line=L2&product_code=P-1&verdict=NG&since=2026-11-30T00%3A00%3A00Z&until=2026-12-01T00%3A00%3A00Z',
    );
  });
});
