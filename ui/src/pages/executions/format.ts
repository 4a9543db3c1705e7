// Duration formatting for execution timings: compact, and precise where the
// numbers are small (pipeline nodes often take a few milliseconds).
import type { CloudSchemas } from '../../api/client';

type Execution = CloudSchemas['Execution'];

/** Units shown after numbers; the page passes translated ones. */
export interface DurationUnits {
  ms: string;
  s: string;
  min: string;
  h: string;
}

export const defaultUnits: DurationUnits = { ms: 'ms', s: 's', min: 'min', h: 'h' };

/**
 * formatElapsed renders a duration in milliseconds: "0 ms", "38 ms", "1.24 s",
 * "12.4 s", "2 min 05 s", "1 h 02 min". null/negative/NaN render as "—".
 */
export function formatElapsed(ms: number | null | undefined, u: DurationUnits = defaultUnits): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms < 0) return '—';
  if (ms < 1000) return `${Math.round(ms)} ${u.ms}`;
  if (ms < 10_000) return `${(Math.floor(ms / 10) / 100).toFixed(2)} ${u.s}`;
  if (ms < 60_000) return `${(Math.floor(ms / 100) / 10).toFixed(1)} ${u.s}`;
  const totalS = Math.floor(ms / 1000);
  if (totalS < 3600) return `${Math.floor(totalS / 60)} ${u.min} ${String(totalS % 60).padStart(2, '0')} ${u.s}`;
  const totalMin = Math.floor(totalS / 60);
  return `${Math.floor(totalMin / 60)} ${u.h} ${String(totalMin % 60).padStart(2, '0')} ${u.min}`;
}

/** formatTick renders an axis tick: shorter than formatElapsed, same units. */
export function formatTick(ms: number, u: DurationUnits = defaultUnits): string {
  if (ms === 0) return '0';
  if (ms < 1000) return `${Math.round(ms)} ${u.ms}`;
  if (ms < 60_000) return `${Number((ms / 1000).toFixed(2))} ${u.s}`;
  return `${Number((ms / 60_000).toFixed(1))} ${u.min}`;
}

function parse(iso: string | undefined): number | null {
  if (!iso) return null;
  const t = Date.parse(iso);
  return Number.isFinite(t) ? t : null;
}

/** isTerminal tells whether an execution (or node) status will not change any more. */
export function isTerminal(status: string | undefined): boolean {
  return status === 'succeeded' || status === 'failed' || status === 'cancelled' || status === 'skipped';
}

/**
 * executionDuration is how long an execution ran: start (or creation) to
 * finish, or to now while it is still going; null before it started.
 */
export function executionDuration(e: Pick<Execution, 'created_at' | 'started_at' | 'finished_at' | 'status'>, now: number): number | null {
  const start = parse(e.started_at) ?? (e.status === 'queued' ? null : parse(e.created_at));
  if (start === null) return null;
  const end = parse(e.finished_at) ?? (isTerminal(e.status) ? null : now);
  if (end === null) return null;
  return Math.max(0, end - start);
}

/** shortId shows the distinguishing tail of a UUIDv7 (its head is a timestamp shared by neighbours). */
export function shortId(id: string): string {
  const compact = id.replace(/-/g, '');
  return compact.length > 8 ? compact.slice(-8) : compact;
}
