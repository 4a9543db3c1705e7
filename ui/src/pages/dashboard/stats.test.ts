import { describe, expect, it } from 'vitest';
import { statsKey } from './stats';

describe('statsKey', () => {
  it('names only the set filters, in a stable order', () => {
    expect(statsKey({ bucket: 'hour', until: '2026-12-01T00:00:00Z', since: '2026-11-30T00:00:00Z', lot: 'L 1', line: '' })).toBe(
      'lot=L+1&since=2026-11-30T00%3A00%3A00Z&until=2026-12-01T00%3A00%3A00Z&bucket=hour',
    );
  });
});
