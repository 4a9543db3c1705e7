import { describe, expect, it } from 'vitest';
import type { EdgeStatus } from '../status';
import { cloudProblem, needsEnrollment, tokenProblem } from './firstRun';

const base = { sync_running: true, sync: { enrolled: false, revoked: false } } as unknown as EdgeStatus;

describe('needsEnrollment', () => {
  it('is true only when sync is configured and the device has no credentials', () => {
    expect(needsEnrollment(base)).toBe(true);
    expect(needsEnrollment(null)).toBe(false);
    expect(needsEnrollment({ ...base, sync: { ...base.sync!, enrolled: true } })).toBe(false);
    expect(needsEnrollment({ ...base, sync: { ...base.sync!, revoked: true } })).toBe(false);
    expect(needsEnrollment({ ...base, sync_running: false, sync: null })).toBe(false);
  });
});

describe('form checks', () => {
  it('wants a token without spaces', () => {
    expect(tokenProblem('')).toBe('enroll.tokenRequired');
    expect(tokenProblem('  ')).toBe('enroll.tokenRequired');
    expect(tokenProblem('ifcenr_a b')).toBe('enroll.tokenInvalid');
    expect(tokenProblem(' ifcenr_abc ')).toBeNull();
  });
  it('wants host:port or nothing for the cloud', () => {
    expect(cloudProblem('')).toBeNull();
    expect(cloudProblem('cloud.example.com:9090')).toBeNull();
    expect(cloudProblem('127.0.0.1:9090')).toBeNull();
    expect(cloudProblem('[::1]:9090')).toBeNull();
    expect(cloudProblem('http://cloud:9090')).toBe('enroll.cloudInvalid');
    expect(cloudProblem('cloud')).toBe('enroll.cloudInvalid');
  });
});
