// Dashboard filters live in the URL query so a view can be bookmarked and
// shared: ?range=today|7d|30d|custom&from=YYYY-MM-DD&to=YYYY-MM-DD&line=..&device_id=..&product_code=..
// (lot is honoured when a link carries it).
import type { Bucket } from './stats';

export const rangePresets = ['today', '7d', '30d', 'custom'] as const;
export type RangePreset = (typeof rangePresets)[number];

export interface DashboardFilters {
  range: RangePreset;
  /** Custom range, local calendar days, both inclusive (YYYY-MM-DD). */
  from?: string;
  to?: string;
  line?: string;
  product_code?: string;
  device_id?: string;
  lot?: string;
}

/** TimeWindow is the half-open interval [since, until) and the trend bucket width. */
export interface TimeWindow {
  since: Date;
  until: Date;
  bucket: Bucket;
}

const DAY = 24 * 60 * 60 * 1000;
const keys = ['line', 'product_code', 'device_id', 'lot'] as const;

/** parseFilters reads the dashboard filters from a URL query; anything unknown falls back to today. */
export function parseFilters(q: URLSearchParams): DashboardFilters {
  const r = q.get('range');
  const f: DashboardFilters = { range: (rangePresets as readonly string[]).includes(r ?? '') ? (r as RangePreset) : 'today' };
  if (f.range === 'custom') {
    const from = q.get('from');
    const to = q.get('to');
    if (from && parseLocalDate(from)) f.from = from;
    if (to && parseLocalDate(to)) f.to = to;
  }
  for (const k of keys) {
    const v = q.get(k);
    if (v) f[k] = v;
  }
  return f;
}

/** filtersToParams writes f as a URL query (the default range, today, is left out). */
export function filtersToParams(f: DashboardFilters): URLSearchParams {
  const q = new URLSearchParams();
  if (f.range !== 'today') q.set('range', f.range);
  if (f.range === 'custom') {
    if (f.from) q.set('from', f.from);
    if (f.to) q.set('to', f.to);
  }
  for (const k of keys) {
    const v = f[k];
    if (v) q.set(k, v);
  }
  return q;
}

/** startOfDay is local midnight of d's day. */
export function startOfDay(d: Date): Date {
  return new Date(d.getFullYear(), d.getMonth(), d.getDate());
}

/** addDays moves d by n calendar days (local time, so DST days stay midnight-aligned). */
export function addDays(d: Date, n: number): Date {
  return new Date(d.getFullYear(), d.getMonth(), d.getDate() + n, d.getHours(), d.getMinutes(), d.getSeconds(), d.getMilliseconds());
}

/** localDateString formats d's local calendar day as YYYY-MM-DD (what <input type=date> uses). */
export function localDateString(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

/** parseLocalDate reads YYYY-MM-DD as local midnight; null when it is not a real day. */
export function parseLocalDate(s: string): Date | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (!m) return null;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const out = new Date(y, mo - 1, d);
  return out.getFullYear() === y && out.getMonth() === mo - 1 && out.getDate() === d ? out : null;
}

/** autoBucket: hourly for ranges up to two days, daily beyond. */
export function autoBucket(since: Date, until: Date): Bucket {
  return until.getTime() - since.getTime() <= 2 * DAY + 60 * 60 * 1000 ? 'hour' : 'day';
}

/**
 * resolveWindow turns the filters into absolute times. Presets end at the
 * end of today (so today's hourly trend shows the whole day); today is one
 * day, 7d and 30d include today. A custom range covers whole local days;
 * missing ends default to the last seven days and reversed ends are swapped.
 */
export function resolveWindow(f: DashboardFilters, now: Date = new Date()): TimeWindow {
  const today = startOfDay(now);
  const tomorrow = addDays(today, 1);
  let since: Date;
  let until: Date;
  switch (f.range) {
    case '7d':
      since = addDays(today, -6);
      until = tomorrow;
      break;
    case '30d':
      since = addDays(today, -29);
      until = tomorrow;
      break;
    case 'custom': {
      let from = (f.from && parseLocalDate(f.from)) || addDays(today, -6);
      let to = (f.to && parseLocalDate(f.to)) || today;
      if (from > to) [from, to] = [to, from];
      since = from;
      until = addDays(to, 1);
      break;
    }
    default:
      since = today;
      until = tomorrow;
  }
  return { since, until, bucket: autoBucket(since, until) };
}

/** isoSeconds is an RFC 3339 UTC timestamp without milliseconds. */
export function isoSeconds(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** DeviceChoice is one device of the fleet the filter offers. */
export interface DeviceChoice {
  id: string;
  name: string;
  line: string;
}

/**
 * deviceOptions lists the devices the device filter offers: those of the
 * chosen line (all without one), sorted by name, plus the one the URL names
 * even when the fleet does not know it (any more). Each comes with its label.
 */
export function deviceOptions(devices: readonly DeviceChoice[], line: string | undefined, selected: string | undefined): { id: string; label: string }[] {
  const shown = devices.filter((d) => !line || d.line === line || d.id === selected);
  const out = [...shown]
    .sort((a, b) => (a.name || a.id).localeCompare(b.name || b.id) || a.id.localeCompare(b.id))
    .map((d) => ({ id: d.id, label: d.name && d.name !== d.id ? `${d.name} (${d.id})` : d.id }));
  if (selected && !out.some((o) => o.id === selected)) out.push({ id: selected, label: selected });
  return out;
}
