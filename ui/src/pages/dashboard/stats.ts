// The statistics the dashboard shows: GET /api/v1/stats (types generated
// from the cloud API's OpenAPI document).
import { cloud, unwrap, type CloudSchemas } from '../../api/client';
import type { operations } from '../../api/cloud.gen';

export type Stats = CloudSchemas['Stats'];
export type KeyCounts = CloudSchemas['KeyCounts'];
export type TrendPoint = CloudSchemas['TrendPoint'];
export type ParetoEntry = CloudSchemas['DefectCount'];
export type StatsQuery = NonNullable<operations['recordStats']['parameters']['query']>;
export type Bucket = NonNullable<StatsQuery['bucket']>;

/** statsKey identifies a query (its set parameters in a stable order), to tell fresh data from stale. */
export function statsKey(q: StatsQuery): string {
  const p = new URLSearchParams();
  for (const k of ['line', 'device_id', 'product_code', 'lot', 'since', 'until', 'bucket'] as const) {
    const v = q[k];
    if (v) p.set(k, v);
  }
  return p.toString();
}

/** fetchStats asks the cloud API for the statistics of q (unset filters are not sent); errors are ApiError. */
export function fetchStats(q: StatsQuery): Promise<Stats> {
  const query = Object.fromEntries(Object.entries(q).filter(([, v]) => v !== undefined && v !== '')) as StatsQuery;
  return unwrap(cloud.GET('/api/v1/stats', { params: { query } }));
}
