// Drill-down: every chart element and KPI tile leads to the records behind
// it. These pure functions map a click to a /records URL that carries the
// dashboard's current filters and narrows them to what was clicked.
import { addDays, isoSeconds, type DashboardFilters, type TimeWindow } from './filters';
import { sortPareto } from './options';
import type { Bucket, Stats } from './stats';

export type Verdict = 'OK' | 'NG';

/** DrillTarget is what a click selects within the dashboard's filters. */
export type DrillTarget =
  | { kind: 'all'; verdict?: Verdict }
  | { kind: 'bucket'; start: Date; end: Date; verdict?: Verdict }
  | { kind: 'defect'; defectType: string }
  | { kind: 'line' | 'shift' | 'product'; key: string; verdict?: Verdict };

/** ChartKind names the dashboard's charts. */
export type ChartKind = 'trend' | 'pareto' | 'line' | 'shift' | 'product';

/** ChartClick is the part of an ECharts click event the drill-down needs. */
export interface ChartClick {
  componentType?: string; // 'series' or, for a clicked axis label, 'xAxis'
  seriesId?: string;
  dataIndex?: number;
  /** Category value of a clicked axis label. */
  value?: unknown;
}

/** recordsURL is the review screen's URL for target within the dashboard's filters and window. */
export function recordsURL(f: DashboardFilters, w: TimeWindow, target: DrillTarget): string {
  const q = new URLSearchParams();
  let line = f.line;
  let product = f.product_code;
  let shift: string | undefined;
  let defect: string | undefined;
  let verdict: Verdict | undefined;
  let since = w.since;
  let until = w.until;
  switch (target.kind) {
    case 'all':
      verdict = target.verdict;
      break;
    case 'bucket':
      // The bucket, clipped to the window (a day bucket may start before it).
      since = target.start > since ? target.start : since;
      until = target.end < until ? target.end : until;
      verdict = target.verdict;
      break;
    case 'defect':
      defect = target.defectType;
      verdict = 'NG';
      break;
    case 'line':
      line = target.key;
      verdict = target.verdict;
      break;
    case 'product':
      product = target.key;
      verdict = target.verdict;
      break;
    case 'shift':
      shift = target.key;
      verdict = target.verdict;
      break;
  }
  const set = (k: string, v: string | undefined) => v && q.set(k, v);
  set('line', line);
  set('device_id', f.device_id);
  set('product_code', product);
  set('lot', f.lot);
  set('shift', shift);
  set('defect_type', defect);
  set('verdict', verdict);
  set('since', isoSeconds(since));
  set('until', isoSeconds(until));
  return `/records?${q.toString()}`;
}

/** bucketEnd is where trend point i ends: the next point's start, else one bucket later. */
export function bucketEnd(trend: Stats['trend'], i: number, bucket: Bucket): Date {
  const next = trend[i + 1];
  if (next) return new Date(next.start);
  const start = new Date(trend[i]?.start ?? NaN);
  return bucket === 'hour' ? new Date(start.getTime() + 60 * 60 * 1000) : addDays(start, 1);
}

function verdictOf(seriesId: string | undefined): Verdict | undefined {
  return seriesId === 'ng' ? 'NG' : seriesId === 'ok' ? 'OK' : undefined;
}

/** categoryIndex is the clicked data index, or for an axis label the index of its category. */
function categoryIndex(ev: ChartClick, categories: string[]): number {
  if (ev.componentType === 'xAxis' || ev.componentType === 'yAxis') return categories.indexOf(String(ev.value));
  return typeof ev.dataIndex === 'number' ? ev.dataIndex : -1;
}

/**
 * drillTarget maps a click on one of the dashboard's charts to what it
 * selects; null when the click hit nothing that maps to records. Series ids
 * are those the option builders set: ok, ng, yield (trend and breakdowns),
 * count and cumulative (Pareto). Axis labels carry the category's key.
 */
export function drillTarget(chart: ChartKind, ev: ChartClick, stats: Stats, bucket: Bucket): DrillTarget | null {
  switch (chart) {
    case 'trend': {
      const i = typeof ev.dataIndex === 'number' ? ev.dataIndex : -1;
      const p = stats.trend[i];
      if (!p) return null;
      return { kind: 'bucket', start: new Date(p.start), end: bucketEnd(stats.trend, i, bucket), verdict: verdictOf(ev.seriesId) };
    }
    case 'pareto': {
      const sorted = sortPareto(stats.pareto); // the order paretoOption draws
      const i = categoryIndex(ev, sorted.map((p) => p.defect_type));
      const p = sorted[i];
      return p ? { kind: 'defect', defectType: p.defect_type } : null;
    }
    case 'line':
    case 'shift':
    case 'product': {
      const rows = chart === 'line' ? stats.by_line : chart === 'shift' ? stats.by_shift : stats.by_product;
      const i = categoryIndex(ev, rows.map((r) => r.key));
      const r = rows[i];
      return r ? { kind: chart, key: r.key, verdict: verdictOf(ev.seriesId) } : null;
    }
  }
}
