// Execution list filters live in the URL query (shareable links):
// ?pipeline=<id>&status=<status>&from=YYYY-MM-DD&to=YYYY-MM-DD.
// Dates are whole days in the viewer's time zone; "to" includes its day.
import type { CloudSchemas } from '../../api/client';

export type ExecutionStatus = CloudSchemas['Execution']['status'];
export const executionStatuses: ExecutionStatus[] = ['queued', 'running', 'succeeded', 'failed', 'cancelled'];

export interface ExecutionFilters {
  pipelineId: string;
  status: ExecutionStatus | '';
  from: string;
  to: string;
}

export const emptyFilters: ExecutionFilters = { pipelineId: '', status: '', from: '', to: '' };

const dateRe = /^\d{4}-\d{2}-\d{2}$/;

function validDate(s: string | null): string {
  if (!s || !dateRe.test(s)) return '';
  return Number.isNaN(localMidnight(s).getTime()) ? '' : s;
}

function localMidnight(day: string): Date {
  const [y, m, d] = day.split('-').map(Number) as [number, number, number];
  const t = new Date(y, m - 1, d);
  // Reject rolled-over dates such as 2026-02-31.
  return t.getFullYear() === y && t.getMonth() === m - 1 && t.getDate() === d ? t : new Date(Number.NaN);
}

/** parseFilters reads the filters from a URL query, dropping invalid values. */
export function parseFilters(q: URLSearchParams): ExecutionFilters {
  const status = q.get('status') ?? '';
  return {
    pipelineId: q.get('pipeline') ?? '',
    status: (executionStatuses as string[]).includes(status) ? (status as ExecutionStatus) : '',
    from: validDate(q.get('from')),
    to: validDate(q.get('to')),
  };
}

/** filtersToSearch writes the filters as a URL query, leaving out empty ones. */
export function filtersToSearch(f: ExecutionFilters): URLSearchParams {
  const q = new URLSearchParams();
  if (f.pipelineId) q.set('pipeline', f.pipelineId);
  if (f.status) q.set('status', f.status);
  if (f.from) q.set('from', f.from);
  if (f.to) q.set('to', f.to);
  return q;
}

export interface ExecutionQuery {
  pipeline_id?: string;
  status?: ExecutionStatus;
  since?: string;
  until?: string;
}

/** toQuery turns the filters into the list API's query: since = start of "from", until = start of the day after "to". */
export function toQuery(f: ExecutionFilters): ExecutionQuery {
  const q: ExecutionQuery = {};
  if (f.pipelineId) q.pipeline_id = f.pipelineId;
  if (f.status) q.status = f.status;
  if (f.from) q.since = localMidnight(f.from).toISOString();
  if (f.to) {
    const d = localMidnight(f.to);
    d.setDate(d.getDate() + 1);
    q.until = d.toISOString();
  }
  return q;
}

export function hasFilters(f: ExecutionFilters): boolean {
  return !!(f.pipelineId || f.status || f.from || f.to);
}
