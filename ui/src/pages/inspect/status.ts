// What the status strip and the banners say, derived from the edge agent's
// status document (GET /api/v1/status, pushed over /api/v1/ws) and from
// whether the agent itself answers.
import type { EdgeSchemas } from '../../api/client';

export type EdgeStatus = EdgeSchemas['StatusJSON'];

/** Whether the UI can talk to the edge agent at all. */
export type AgentReach = 'unknown' | 'reachable' | 'unreachable';

/** The station's link to the cloud, as far as the agent knows. */
export type CloudLink = 'connected' | 'offline' | 'not-enrolled' | 'revoked' | 'disabled' | 'unknown';

export function cloudLink(st: EdgeStatus | null): CloudLink {
  if (!st) return 'unknown';
  const sync = st.sync;
  if (!st.sync_running || !sync) return 'disabled';
  if (sync.revoked) return 'revoked';
  if (!sync.enrolled) return 'not-enrolled';
  return st.sync_connected ? 'connected' : 'offline';
}

export type BannerId = 'agent' | 'cloud' | 'revoked' | 'enroll' | 'disk';

export interface BannerSpec {
  id: BannerId;
  tone: 'error' | 'warn' | 'info';
  /** i18n keys (inspect namespace) of the headline and the explanation. */
  title: string;
  detail: string;
  params?: Record<string, string | number>;
}

/**
 * banners lists what must be shouted, most serious first. An unreachable
 * agent hides everything else: the last status it sent is stale.
 */
export function banners(agent: AgentReach, st: EdgeStatus | null): BannerSpec[] {
  if (agent === 'unreachable') {
    return [{ id: 'agent', tone: 'error', title: 'banner.agentTitle', detail: 'banner.agentDetail' }];
  }
  if (!st) return [];
  const out: BannerSpec[] = [];
  switch (cloudLink(st)) {
    case 'offline':
      out.push({ id: 'cloud', tone: 'warn', title: 'banner.cloudTitle', detail: 'banner.cloudDetail', params: { count: st.queued } });
      break;
    case 'revoked':
      out.push({ id: 'revoked', tone: 'error', title: 'banner.revokedTitle', detail: 'banner.revokedDetail', params: { count: st.queued } });
      break;
    case 'not-enrolled':
      out.push({ id: 'enroll', tone: 'info', title: 'banner.enrollTitle', detail: 'banner.enrollDetail', params: { count: st.queued } });
      break;
  }
  if (!st.capture_allowed) {
    out.unshift({ id: 'disk', tone: 'error', title: 'banner.diskTitle', detail: 'banner.diskDetail', params: { reason: st.capture_refusal } });
  }
  return out;
}

/** cameraLive reports whether the camera delivers frames ("" = the agent does not say, assume yes). */
export function cameraLive(st: EdgeStatus | null): boolean {
  return !st || st.camera === '' || st.camera === 'live';
}

/** canCapture reports whether the Capture button should be enabled. */
export function canCapture(agent: AgentReach, st: EdgeStatus | null): boolean {
  return agent !== 'unreachable' && cameraLive(st) && (st?.capture_allowed ?? true);
}

/** lastSync is the newest time the agent synced with the cloud, or null. */
export function lastSync(st: EdgeStatus | null): string | null {
  return st?.sync?.last_success ?? st?.last_sync ?? null;
}

/** lastError is the sync error to show, or "" (none, or older than the last success). */
export function lastError(st: EdgeStatus | null): string {
  if (!st) return '';
  const err = st.sync?.last_error || st.last_error;
  if (!err) return '';
  const errAt = Date.parse(st.sync?.last_error_at ?? st.last_error_at ?? '');
  const okAt = Date.parse(lastSync(st) ?? '');
  if (Number.isFinite(errAt) && Number.isFinite(okAt) && okAt > errAt) return '';
  return err;
}

/** modelVersion names the pre-filter model in use, "name version". */
export function modelVersion(st: EdgeStatus | null): string {
  if (!st) return '';
  return [st.model.name, st.model.version].filter(Boolean).join(' ');
}

/** relativeTime says how long ago iso was, in the given language ("3 min ago"). */
export function relativeTime(iso: string | null | undefined, lang: string, now = Date.now()): string {
  if (!iso) return '';
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return '';
  // Never "in 2 s": the agent's clock may run a little ahead of this screen's.
  const s = Math.min(0, Math.round((t - now) / 1000));
  const rtf = new Intl.RelativeTimeFormat(lang === 'ja' ? 'ja' : 'en', { numeric: 'auto', style: 'short' });
  const abs = Math.abs(s);
  if (abs < 60) return rtf.format(s, 'second');
  if (abs < 3600) return rtf.format(Math.round(s / 60), 'minute');
  if (abs < 86400) return rtf.format(Math.round(s / 3600), 'hour');
  return rtf.format(Math.round(s / 86400), 'day');
}

/** clockTime shows iso as a wall-clock time, with the date only when it is not today. */
export function clockTime(iso: string | null | undefined, lang: string, now = new Date()): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '—';
  const locale = lang === 'ja' ? 'ja-JP' : 'en-GB';
  const time = d.toLocaleTimeString(locale, { hour: '2-digit', minute: '2-digit' });
  if (d.toDateString() === now.toDateString()) return time;
  return `${d.toLocaleDateString(locale, { month: 'short', day: 'numeric' })} ${time}`;
}
