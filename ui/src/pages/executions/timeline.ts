// Layout of the per-node timeline: each node's bar is positioned by its
// started_at/finished_at relative to the execution start, as fractions of
// the whole span so the component only multiplies by 100%.
import type { CloudSchemas } from '../../api/client';

type Execution = CloudSchemas['Execution'];
type NodeStatus = CloudSchemas['NodeStatus'];

export interface TimelineBar {
  nodeId: string;
  status: NodeStatus['status'];
  /** false for nodes that never started (queued, skipped): no bar is drawn. */
  started: boolean;
  /** Offset of the bar's start from the execution start (ms). */
  offsetMs: number;
  /** The node's own duration (ms); up to now while it runs; null when not started. */
  durationMs: number | null;
  /** Left edge and width as fractions of the track (0..1). */
  left: number;
  width: number;
  attempts: number;
  error?: string;
  running: boolean;
}

export interface TimelineTick {
  ms: number;
  /** Position as a fraction of the track (0..1). */
  at: number;
}

export interface TimelineLayout {
  /** Span of the track (ms); at least 1. */
  totalMs: number;
  bars: TimelineBar[];
  ticks: TimelineTick[];
}

function ts(iso: string | undefined): number | null {
  if (!iso) return null;
  const t = Date.parse(iso);
  return Number.isFinite(t) ? t : null;
}

/** niceStep returns a step of 1, 2 or 5 × 10^k that is at least raw. */
export function niceStep(raw: number): number {
  if (!(raw > 0) || !Number.isFinite(raw)) return 1;
  const pow = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * pow >= raw - 1e-9) return m * pow;
  return 10 * pow;
}

/** ticks returns evenly spaced nice ticks from 0 to at most totalMs (about `target` of them). */
export function ticksFor(totalMs: number, target = 6): TimelineTick[] {
  const step = niceStep(totalMs / target);
  const out: TimelineTick[] = [];
  for (let ms = 0; ms <= totalMs + 1e-9 && out.length < 100; ms += step) out.push({ ms, at: ms / totalMs });
  return out;
}

/**
 * layoutTimeline places one bar per node of e (in the execution's node
 * order). The track starts at the execution's start (or creation, or the
 * first node's start) and ends at its finish, the last node's finish, or
 * now while anything runs. Bars narrower than minWidth are widened so that
 * millisecond nodes stay visible, and kept inside the track.
 */
export function layoutTimeline(e: Pick<Execution, 'created_at' | 'started_at' | 'finished_at' | 'status' | 'nodes'>, now: number, minWidth = 0.006): TimelineLayout {
  const nodeStarts = e.nodes.map((n) => ts(n.started_at)).filter((x): x is number => x !== null);
  const origin = ts(e.started_at) ?? (nodeStarts.length ? Math.min(...nodeStarts) : null) ?? ts(e.created_at) ?? now;
  const live = e.status === 'queued' || e.status === 'running';
  const ends: number[] = [];
  for (const n of e.nodes) {
    const f = ts(n.finished_at);
    if (f !== null) ends.push(f);
    else if (n.status === 'running' && ts(n.started_at) !== null) ends.push(now);
  }
  const finished = ts(e.finished_at);
  if (finished !== null) ends.push(finished);
  else if (live) ends.push(now);
  const end = ends.length ? Math.max(...ends) : origin;
  const totalMs = Math.max(1, end - origin);

  const bars = e.nodes.map((n): TimelineBar => {
    const s = ts(n.started_at);
    const base = { nodeId: n.node_id, status: n.status, attempts: n.attempts ?? (s === null ? 0 : 1), error: n.error, running: n.status === 'running' };
    if (s === null) return { ...base, started: false, offsetMs: 0, durationMs: null, left: 0, width: 0 };
    const f = ts(n.finished_at) ?? (n.status === 'running' ? now : s);
    const offsetMs = Math.max(0, s - origin);
    const durationMs = Math.max(0, f - s);
    let left = Math.min(1, offsetMs / totalMs);
    const width = Math.min(1, Math.max(minWidth, durationMs / totalMs));
    if (left + width > 1) left = Math.max(0, 1 - width);
    return { ...base, started: true, offsetMs, durationMs, left, width };
  });
  return { totalMs, bars, ticks: ticksFor(totalMs) };
}
