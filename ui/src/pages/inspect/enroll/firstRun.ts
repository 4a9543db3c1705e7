// When the first-run screen replaces the inspector screens.
import type { EdgeStatus } from '../status';

/**
 * needsEnrollment: sync is configured (the agent has a cloud address) but
 * the device has no credentials yet. A revoked device or an agent without
 * sync is not "first run": the inspector screens explain those.
 */
export function needsEnrollment(st: EdgeStatus | null): boolean {
  return !!st && st.sync_running && !!st.sync && !st.sync.enrolled && !st.sync.revoked;
}

/** tokenProblem checks a token before sending it; it returns an i18n key (desktop namespace) or null. */
export function tokenProblem(token: string): string | null {
  const t = token.trim();
  if (t === '') return 'enroll.tokenRequired';
  if (/\s/.test(t) || t.length > 512) return 'enroll.tokenInvalid';
  return null;
}

/** cloudProblem checks an optional host:port; it returns an i18n key or null. */
export function cloudProblem(addr: string): string | null {
  const a = addr.trim();
  if (a === '') return null;
  return /^[^\s/:]+(:\d{1,5})$|^\[[0-9a-fA-F:.]+\]:\d{1,5}$/.test(a) ? null : 'enroll.cloudInvalid';
}
