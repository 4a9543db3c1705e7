import { describe, expect, it } from 'vitest';
import { filtersToSearch, hasFilters, parseFilters, toQuery } from './filters';

describe('execution filters', () => {
  it('round-trips through the URL query', () => {
    const f = { pipelineId: 'p1', status: 'succeeded' as const, from: '2026-03-01', to: '2026-03-31' };
    const q = filtersToSearch(f);
    expect(q.toString()).toBe('pipeline=p1&status=succeeded&from=2026-03-01&to=2026-03-31');
    expect(parseFilters(q)).toEqual(f);
    expect(hasFilters(f)).toBe(true);
  });

  it('drops invalid values', () => {
    const f = parseFilters(new URLSearchParams('status=exploded&from=2026-02-31&to=yesterday&other=1'));
    expect(f).toEqual({ pipelineId: '', status: '', from: '', to: '' });
    expect(hasFilters(f)).toBe(false);
    expect(filtersToSearch(f).toString()).toBe('');
  });

  it('turns whole local days into since/until, "to" inclusive', () => {
    const q = toQuery({ pipelineId: '', status: 'failed', from: '2026-03-01', to: '2026-03-01' });
    expect(q.status).toBe('failed');
    expect(q.pipeline_id).toBeUndefined();
    expect(new Date(q.since!).getTime()).toBe(new Date(2026, 2, 1).getTime());
    expect(new Date(q.until!).getTime()).toBe(new Date(2026, 2, 2).getTime());
  });

  it('rolls "to" over month ends', () => {
    const q = toQuery({ pipelineId: '', status: '', from: '', to: '2026-01-31' });
    expect(new Date(q.until!).getTime()).toBe(new Date(2026, 1, 1).getTime());
    expect(q.since).toBeUndefined();
  });
});
