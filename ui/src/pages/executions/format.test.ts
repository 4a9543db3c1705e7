import { describe, expect, it } from 'vitest';
import { executionDuration, formatElapsed, formatTick, shortId } from './format';

describe('formatElapsed', () => {
  it.each([
    [0, '0 ms'],
    [0.4, '0 ms'],
    [37.6, '38 ms'],
    [999, '999 ms'],
    [1000, '1.00 s'],
    [1239, '1.23 s'],
    [9999, '9.99 s'],
    [12_460, '12.4 s'],
    [59_999, '59.9 s'],
    [60_000, '1 min 00 s'],
    [125_000, '2 min 05 s'],
    [3_600_000, '1 h 00 min'],
    [3_725_000, '1 h 02 min'],
  ])('%d ms → %s', (ms, want) => {
    expect(formatElapsed(ms)).toBe(want);
  });
  it('renders missing and invalid values as a dash', () => {
    expect(formatElapsed(null)).toBe('—');
    expect(formatElapsed(undefined)).toBe('—');
    expect(formatElapsed(Number.NaN)).toBe('—');
    expect(formatElapsed(-5)).toBe('—');
  });
  it('uses the units it is given', () => {
    const ja = { ms: 'ms', s: '秒', min: '分', h: '時間' };
    expect(formatElapsed(1500, ja)).toBe('1.50 秒');
    expect(formatElapsed(125_000, ja)).toBe('2 分 05 秒');
  });
});

describe('formatTick', () => {
  it('is short', () => {
    expect(formatTick(0)).toBe('0');
    expect(formatTick(50)).toBe('50 ms');
    expect(formatTick(1500)).toBe('1.5 s');
    expect(formatTick(2000)).toBe('2 s');
    expect(formatTick(90_000)).toBe('1.5 min');
  });
});

describe('executionDuration', () => {
  const now = Date.parse('2026-01-01T00:01:00Z');
  it('spans start to finish', () => {
    expect(executionDuration({ status: 'succeeded', created_at: '2026-01-01T00:00:00Z', started_at: '2026-01-01T00:00:00.100Z', finished_at: '2026-01-01T00:00:00.350Z' }, now)).toBe(250);
  });
  it('runs to now while running', () => {
    expect(executionDuration({ status: 'running', started_at: '2026-01-01T00:00:30Z' }, now)).toBe(30_000);
  });
  it('is null while queued and when a terminal execution lacks a finish', () => {
    expect(executionDuration({ status: 'queued', created_at: '2026-01-01T00:00:00Z' }, now)).toBeNull();
    expect(executionDuration({ status: 'failed', started_at: '2026-01-01T00:00:00Z' }, now)).toBeNull();
  });
});

describe('shortId', () => {
  it('keeps the random tail of a UUID', () => {
    expect(shortId('01a22a90-d44d-75c5-87a5-a0c1952bbccb')).toBe('952bbccb');
    expect(shortId('abc')).toBe('abc');
  });
});
