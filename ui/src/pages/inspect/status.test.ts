import { describe, expect, it } from 'vitest';
import { banners, canCapture, cameraLive, clockTime, cloudLink, lastError, lastSync, modelVersion, relativeTime, type EdgeStatus } from './status';

function status(over: Partial<EdgeStatus> = {}, sync: Partial<NonNullable<EdgeStatus['sync']>> | null = {}): EdgeStatus {
  return {
    device_id: 'vm', line: 'L1', queued: 0, queued_bytes: 0, last_error: '', sync_connected: true, sync_running: true,
    records: 0, budget_bytes: 0, soft_limit_bytes: 1, hard_limit_bytes: 2, capture_allowed: true, capture_refusal: '',
    camera: 'live', model: { name: 'prefilter', version: '1.0.0', sha256: 'x', threshold: 0.3, source: 'embedded' },
    sync: sync === null ? null : {
      enrolled: true, connected: true, revoked: false, cloud_addr: 'c:1', queued_bytes: 0, last_error: '',
      sent_records: 0, sent_bytes: 0, resent_bytes: 0, model_version: '1.0.0', ...sync,
    },
    ...over,
  };
}

describe('cloudLink', () => {
  it('reads the sync state', () => {
    expect(cloudLink(null)).toBe('unknown');
    expect(cloudLink(status())).toBe('connected');
    expect(cloudLink(status({ sync_connected: false }, { connected: false }))).toBe('offline');
    expect(cloudLink(status({ sync_running: false }, null))).toBe('disabled');
    expect(cloudLink(status({}, { revoked: true }))).toBe('revoked');
    expect(cloudLink(status({ sync_connected: false }, { enrolled: false }))).toBe('not-enrolled');
  });
});

describe('banners', () => {
  it('shows nothing when all is well or nothing is known yet', () => {
    expect(banners('reachable', status())).toEqual([]);
    expect(banners('unknown', null)).toEqual([]);
    expect(banners('reachable', status({ sync_running: false }, null))).toEqual([]);
  });
  it('says the cloud is offline, with the queue, while inspection continues', () => {
    const b = banners('reachable', status({ sync_connected: false, queued: 3 }, { connected: false }));
    expect(b).toEqual([{ id: 'cloud', tone: 'warn', title: 'banner.cloudTitle', detail: 'banner.cloudDetail', params: { count: 3 } }]);
  });
  it('an unreachable agent is its own message and hides the stale status', () => {
    const b = banners('unreachable', status({ sync_connected: false }, { connected: false }));
    expect(b.map((x) => x.id)).toEqual(['agent']);
    expect(b[0]!.tone).toBe('error');
  });
  it('puts a full disk first', () => {
    const b = banners('reachable', status({ capture_allowed: false, capture_refusal: 'disk full', sync_connected: false }, { connected: false }));
    expect(b.map((x) => x.id)).toEqual(['disk', 'cloud']);
    expect(b[0]!.params).toEqual({ reason: 'disk full' });
  });
  it('names revocation and a missing enrollment', () => {
    expect(banners('reachable', status({}, { revoked: true }))[0]!.id).toBe('revoked');
    expect(banners('reachable', status({ sync_connected: false }, { enrolled: false }))[0]!.id).toBe('enroll');
  });
});

describe('capture and camera', () => {
  it('enables capture only with a reachable agent, a live camera and disk budget', () => {
    expect(canCapture('reachable', status())).toBe(true);
    expect(canCapture('unknown', null)).toBe(true);
    expect(canCapture('unreachable', status())).toBe(false);
    expect(canCapture('reachable', status({ camera: 'missing' }))).toBe(false);
    expect(canCapture('reachable', status({ capture_allowed: false }))).toBe(false);
    expect(cameraLive(status({ camera: 'error' }))).toBe(false);
    expect(cameraLive(status({ camera: '' }))).toBe(true);
  });
});

describe('details', () => {
  it('prefers the sync loop last success and hides errors older than it', () => {
    const st = status({ last_sync: '2026-01-01T00:00:00Z', last_error: 'unreachable', last_error_at: '2026-01-01T00:01:00Z' },
      { last_success: '2026-01-01T00:02:00Z', last_error: 'unreachable', last_error_at: '2026-01-01T00:01:00Z' });
    expect(lastSync(st)).toBe('2026-01-01T00:02:00Z');
    expect(lastError(st)).toBe('');
    const failing = status({}, { last_success: '2026-01-01T00:00:00Z', last_error: 'dial tcp: refused', last_error_at: '2026-01-01T00:05:00Z' });
    expect(lastError(failing)).toBe('dial tcp: refused');
    expect(modelVersion(st)).toBe('prefilter 1.0.0');
  });
  it('formats relative times in both languages', () => {
    const now = Date.parse('2026-01-01T00:10:00Z');
    expect(relativeTime('2026-01-01T00:09:30Z', 'en', now)).toMatch(/30 sec/);
    expect(relativeTime('2026-01-01T00:07:00Z', 'ja', now)).toMatch(/3 分前/);
    expect(relativeTime(null, 'en', now)).toBe('');
    expect(relativeTime('2026-01-01T00:10:02Z', 'en', now)).toBe('now'); // agent clock slightly ahead
  });
});

describe('clockTime', () => {
  it('shows the time of today, and the date too otherwise', () => {
    const now = new Date(2026, 0, 2, 15, 0);
    expect(clockTime(new Date(2026, 0, 2, 8, 5).toISOString(), 'en', now)).toBe('08:05');
    expect(clockTime(new Date(2026, 0, 1, 8, 5).toISOString(), 'en', now)).toMatch(/1 Jan 08:05/);
    expect(clockTime(undefined, 'ja', now)).toBe('—');
  });
});
