// Review filters live in the URL query so the dashboards can deep-link to
// the matching records (/records?line=L1&verdict=NG&since=...). This file
// maps the query to filters, filters to the query, and filters to the
// search API's parameters.
import type { paths } from '../../api/cloud.gen';

/** Verdict filter: the effective verdict. */
export type VerdictFilter = '' | 'OK' | 'NG';
/** Acknowledged filter: '' any, 'yes' acknowledged, 'no' not yet. */
export type AckFilter = '' | 'yes' | 'no';

export interface RecordFilters {
  line: string;
  device_id: string;
  product_code: string;
  lot: string;
  verdict: VerdictFilter;
  defect_type: string;
  shift: string;
  acknowledged: AckFilter;
  /** RFC 3339 instants (inclusive since, exclusive until), '' = open. */
  since: string;
  until: string;
}

export const emptyFilters: RecordFilters = {
  line: '',
  device_id: '',
  product_code: '',
  lot: '',
  verdict: '',
  defect_type: '',
  shift: '',
  acknowledged: '',
  since: '',
  until: '',
};

/** filterKeys in the order they appear in URLs. */
export const filterKeys = Object.keys(emptyFilters) as (keyof RecordFilters)[];

/** Short aliases accepted from deep links (the canonical names are the API's). */
const aliases: Record<string, keyof RecordFilters> = { device: 'device_id', product: 'product_code', defect: 'defect_type', ack: 'acknowledged' };

function parseVerdict(v: string): VerdictFilter {
  const u = v.trim().toUpperCase();
  return u === 'OK' || u === 'NG' ? u : '';
}

function parseAck(v: string): AckFilter {
  const l = v.trim().toLowerCase();
  if (l === 'yes' || l === 'true' || l === '1') return 'yes';
  if (l === 'no' || l === 'false' || l === '0') return 'no';
  return '';
}

function parseInstant(v: string): string {
  const t = v.trim();
  if (!t) return '';
  // A bare date (2026-11-30) from a hand-written link means local midnight.
  const d = /^\d{4}-\d{2}-\d{2}$/.test(t) ? new Date(`${t}T00:00:00`) : new Date(t);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString();
}

/** parseFilters reads the filters from a URL query; unknown or malformed values are dropped. */
export function parseFilters(q: URLSearchParams): RecordFilters {
  const f: RecordFilters = { ...emptyFilters };
  const raw = new Map<keyof RecordFilters, string>();
  for (const [k, v] of q) {
    const key = (filterKeys as string[]).includes(k) ? (k as keyof RecordFilters) : aliases[k];
    if (key && v !== '' && !raw.has(key)) raw.set(key, v);
  }
  for (const [k, v] of raw) {
    switch (k) {
      case 'verdict':
        f.verdict = parseVerdict(v);
        break;
      case 'acknowledged':
        f.acknowledged = parseAck(v);
        break;
      case 'since':
      case 'until':
        f[k] = parseInstant(v);
        break;
      default:
        f[k] = v.trim().slice(0, 128);
    }
  }
  return f;
}

/** filtersToQuery writes the non-empty filters to a URL query (canonical names, stable order). */
export function filtersToQuery(f: RecordFilters): URLSearchParams {
  const q = new URLSearchParams();
  for (const k of filterKeys) if (f[k]) q.set(k, f[k]);
  return q;
}

/** activeCount is how many filters are set. */
export function activeCount(f: RecordFilters): number {
  return filterKeys.filter((k) => f[k] !== '').length;
}

/** SearchQuery is the query of GET /api/v1/records (generated from the OpenAPI document). */
export type SearchQuery = NonNullable<paths['/api/v1/records']['get']['parameters']['query']>;

/** toSearchQuery maps filters (plus paging) to the search API's parameters. */
export function toSearchQuery(f: RecordFilters, limit: number, pageToken?: string): SearchQuery {
  const q: SearchQuery = { limit };
  for (const k of ['line', 'device_id', 'product_code', 'lot', 'defect_type', 'shift', 'since', 'until'] as const) if (f[k]) q[k] = f[k];
  if (f.verdict) q.verdict = f.verdict === 'OK' ? 'ok' : 'ng';
  if (f.acknowledged) q.acknowledged = f.acknowledged === 'yes';
  if (pageToken) q.page_token = pageToken;
  return q;
}

/** dateInputValue shows an RFC 3339 instant in an <input type="date"> (local date). */
export function dateInputValue(iso: string): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

/**
 * fromDateInput turns a picked local date into an instant: the start of
 * that day for "since", the start of the next day for "until" (so the
 * picked day is included).
 */
export function fromDateInput(v: string, edge: 'since' | 'until'): string {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(v)) return '';
  const d = new Date(`${v}T00:00:00`);
  if (Number.isNaN(d.getTime())) return '';
  if (edge === 'until') d.setDate(d.getDate() + 1);
  return d.toISOString();
}

/** untilInputValue shows an exclusive "until" instant as the last included local date. */
export function untilInputValue(iso: string): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  // Exactly local midnight: the day before is the last one included.
  if (d.getHours() === 0 && d.getMinutes() === 0 && d.getSeconds() === 0 && d.getMilliseconds() === 0) d.setDate(d.getDate() - 1);
  return dateInputValue(d.toISOString());
}

/** lastDays is the range of the last n days up to now (for quick presets). */
export function lastDays(n: number, now = new Date()): { since: string; until: string } {
  const start = new Date(now);
  start.setHours(0, 0, 0, 0);
  start.setDate(start.getDate() - (n - 1));
  return { since: start.toISOString(), until: '' };
}
