import { describe, expect, it } from 'vitest';
import { ageMs, formatRelative } from './relative';

const now = Date.parse('2026-05-01T12:00:00Z');
const ago = (s: number) => new Date(now - s * 1000).toISOString();

describe('formatRelative', () => {
  it('says now for the last few seconds', () => {
    expect(formatRelative(ago(2), now, 'en')).toBe('now');
  });
  it.each([
    [30, '30 sec. ago'],
    [59, '59 sec. ago'],
    [60, '1 min. ago'],
    [119, '1 min. ago'],
    [3600 * 3 + 5, '3 hr. ago'],
    [86400 * 2, '2 days ago'],
  ])('%d s ago → %s', (s, want) => {
    expect(formatRelative(ago(s), now, 'en')).toBe(want);
  });
  it('handles the future (token expiry)', () => {
    expect(formatRelative(new Date(now + 24 * 3600 * 1000).toISOString(), now, 'en')).toBe('tomorrow');
    expect(formatRelative(new Date(now + 3600 * 1000).toISOString(), now, 'en')).toBe('in 1 hr.');
    expect(formatRelative(new Date(now + 86_400_000 - 5_000).toISOString(), now, 'en')).toBe('in 24 hr.');
  });
  it('speaks Japanese', () => {
    expect(formatRelative(ago(300), now, 'ja')).toBe('5 分前');
  });
  it('is null without a time', () => {
    expect(formatRelative(undefined, now, 'en')).toBeNull();
    expect(formatRelative('garbage', now, 'en')).toBeNull();
  });
});

describe('ageMs', () => {
  it('measures from now', () => {
    expect(ageMs(ago(90), now)).toBe(90_000);
    expect(ageMs(null, now)).toBeNull();
  });
});
