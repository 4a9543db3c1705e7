// ECharts options of the dashboard's charts, built from the statistics by
// pure functions (tested without a canvas). Series ids are what drill.ts
// maps clicks by: ok, ng and yield; count and cumulative on the Pareto.
import type { ComposeOption } from 'echarts/core';
import type { BarSeriesOption, LineSeriesOption } from 'echarts/charts';
import type { GridComponentOption, LegendComponentOption, TooltipComponentOption } from 'echarts/components';
import type { Fmt } from './format';
import type { Bucket, KeyCounts, ParetoEntry, TrendPoint } from './stats';

export type ChartOption = ComposeOption<
  BarSeriesOption | LineSeriesOption | GridComponentOption | LegendComponentOption | TooltipComponentOption
>;

/** Colours from the design tokens in styles.css (OK and NG a shade lighter: they fill large bars). */
export const colors = {
  ok: '#4fae7b',
  ng: '#d64545',
  yield: '#1f5fbf',
  cumulative: '#b26a00',
  text: '#17202e',
  muted: '#5d6b7e',
  grid: '#e2e7ef',
};

/** ChartText are the translated series names and the formatters. */
export interface ChartText {
  ok: string;
  ng: string;
  yield: string;
  count: string;
  cumulative: string;
  fmt: Fmt;
  /** Label of a category key (shift "A" → "A直", defect code → its name). */
  category?: (key: string) => string;
}

/** ParetoData are the Pareto bars (count descending) and the cumulative share in percent. */
export interface ParetoData {
  categories: string[];
  counts: number[];
  cumulative: number[];
}

/** sortPareto orders defect types by count descending, then by code (what the bars show). */
export function sortPareto(p: ParetoEntry[]): ParetoEntry[] {
  return [...p].sort((a, b) => b.count - a.count || a.defect_type.localeCompare(b.defect_type));
}

/** paretoData computes the bars and the cumulative percentage line (last point 100). */
export function paretoData(p: ParetoEntry[]): ParetoData {
  const sorted = sortPareto(p);
  const total = sorted.reduce((s, e) => s + e.count, 0);
  let run = 0;
  return {
    categories: sorted.map((e) => e.defect_type),
    counts: sorted.map((e) => e.count),
    cumulative: sorted.map((e) => {
      run += e.count;
      return total > 0 ? round1((run / total) * 100) : 0;
    }),
  };
}

/** yieldPercent is a yield ratio as a percentage for the yield axis; null (a gap) when nothing was inspected. */
export function yieldPercent(c: { total: number; yield: number }): number | null {
  return c.total > 0 ? round1(c.yield * 100) : null;
}

/** yieldAxisMin starts the yield axis at the ten below the lowest yield, so 95–100 % is not flattened. */
export function yieldAxisMin(lowest: number): number {
  if (!Number.isFinite(lowest)) return 0;
  return Math.max(0, Math.min(90, Math.floor((lowest - 1) / 10) * 10));
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

const font = '"Inter", "Noto Sans JP", "Hiragino Kaku Gothic ProN", "Yu Gothic UI", system-ui, sans-serif';

function base(): ChartOption {
  return {
    animationDuration: 300,
    textStyle: { fontFamily: font, color: colors.text },
    grid: { left: 4, right: 4, top: 36, bottom: 4 },
    legend: { top: 0, right: 0, itemWidth: 12, itemHeight: 8, textStyle: { color: colors.muted, fontSize: 12 } },
    tooltip: {
      trigger: 'axis',
      axisPointer: { type: 'shadow' },
      confine: true,
      textStyle: { fontFamily: font, fontSize: 12 },
    },
  };
}

// Axes carry no names: the legend names the series and the labels show counts and percentages.
function countAxis(t: ChartText) {
  return {
    type: 'value' as const,
    minInterval: 1,
    axisLabel: { color: colors.muted, formatter: (v: number) => t.fmt.num(v) },
    splitLine: { lineStyle: { color: colors.grid } },
  };
}

function percentAxis(t: ChartText, min: number) {
  return {
    type: 'value' as const,
    min,
    max: 100,
    axisLabel: { color: colors.muted, formatter: (v: number) => t.fmt.pct(v / 100, 0) },
    splitLine: { show: false },
  };
}

function categoryAxis(categories: string[], label: (key: string) => string, opts: { rotate?: boolean; every?: boolean } = {}) {
  return {
    type: 'category' as const,
    data: categories,
    triggerEvent: true, // clicking a label drills down too
    axisTick: { alignWithLabel: true },
    axisLine: { lineStyle: { color: colors.grid } },
    axisLabel: {
      color: colors.muted,
      formatter: label,
      // Categories (lines, shifts, products, defects) are all labelled; time buckets as space allows.
      interval: opts.every === false ? ('auto' as const) : 0,
      hideOverlap: true,
      rotate: opts.rotate ? 30 : 0,
      width: 96,
      overflow: 'truncate' as const,
    },
  };
}

const countValue = (t: ChartText) => (v: unknown) => (typeof v === 'number' ? t.fmt.num(v) : '—');
const pctValue = (t: ChartText) => (v: unknown) => (typeof v === 'number' ? t.fmt.pct(v / 100) : '—');

function yieldLine(t: ChartText, data: (number | null)[], yAxisIndex: number, labelled = false): LineSeriesOption {
  return {
    id: 'yield',
    name: t.yield,
    type: 'line',
    yAxisIndex,
    data,
    connectNulls: false,
    symbol: 'circle',
    symbolSize: 7,
    lineStyle: { width: 2, color: colors.yield },
    itemStyle: { color: colors.yield },
    z: 3,
    // Few categories: each yield is written at its point, so it reads without hovering.
    label: labelled
      ? {
          show: true,
          position: 'top',
          formatter: (p: { value?: unknown }) => pctValue(t)(p.value),
          color: colors.yield,
          fontSize: 11,
          fontWeight: 600,
          backgroundColor: 'rgba(255,255,255,0.85)',
          padding: [1, 4],
          borderRadius: 3,
        }
      : { show: false },
    tooltip: { valueFormatter: pctValue(t) },
  };
}

/** trendOption: NG count bars (left axis) and yield % line (right axis) per bucket, oldest first. */
export function trendOption(trend: TrendPoint[], bucket: Bucket, t: ChartText): ChartOption {
  const categories = trend.map((p) => p.start);
  const days = new Set(trend.map((p) => new Date(p.start).toDateString()));
  const withDate = bucket === 'hour' && days.size > 1;
  const yields = trend.map(yieldPercent);
  const lowest = Math.min(...yields.filter((y): y is number => y !== null));
  return {
    ...base(),
    xAxis: categoryAxis(categories, (iso) => t.fmt.bucket(iso, bucket, withDate), { every: false }),
    yAxis: [countAxis(t), percentAxis(t, yieldAxisMin(lowest))],
    series: [
      {
        id: 'ng',
        name: t.ng,
        type: 'bar',
        yAxisIndex: 0,
        data: trend.map((p) => p.ng),
        itemStyle: { color: colors.ng, borderRadius: [3, 3, 0, 0] },
        barMaxWidth: 28,
        tooltip: { valueFormatter: countValue(t) },
      },
      yieldLine(t, yields, 1),
    ],
  };
}

/** paretoOption: defect counts as bars (descending) and the cumulative share as a line (right axis, 0–100 %). */
export function paretoOption(pareto: ParetoEntry[], t: ChartText): ChartOption {
  const d = paretoData(pareto);
  const label = t.category ?? ((k: string) => k);
  return {
    ...base(),
    xAxis: categoryAxis(d.categories, label, { rotate: d.categories.length > 5 }),
    yAxis: [countAxis(t), percentAxis(t, 0)],
    series: [
      {
        id: 'count',
        name: t.count,
        type: 'bar',
        yAxisIndex: 0,
        data: d.counts,
        itemStyle: { color: colors.ng, borderRadius: [3, 3, 0, 0] },
        barMaxWidth: 48,
        tooltip: { valueFormatter: countValue(t) },
      },
      {
        id: 'cumulative',
        name: t.cumulative,
        type: 'line',
        yAxisIndex: 1,
        data: d.cumulative,
        symbol: 'circle',
        symbolSize: 6,
        lineStyle: { width: 2, color: colors.cumulative },
        itemStyle: { color: colors.cumulative },
        tooltip: { valueFormatter: pctValue(t) },
      },
    ],
  };
}

/** breakdownOption: OK and NG stacked per key (line, shift or product) with the yield % line (right axis). */
export function breakdownOption(rows: KeyCounts[], t: ChartText): ChartOption {
  const label = t.category ?? ((k: string) => k);
  const yields = rows.map(yieldPercent);
  const lowest = Math.min(...yields.filter((y): y is number => y !== null));
  const bar = (id: 'ok' | 'ng', name: string, color: string, data: number[]): BarSeriesOption => ({
    id,
    name,
    type: 'bar',
    stack: 'verdict',
    yAxisIndex: 0,
    data,
    barMaxWidth: 44,
    itemStyle: { color, borderRadius: id === 'ng' ? [3, 3, 0, 0] : 0 },
    tooltip: { valueFormatter: countValue(t) },
  });
  return {
    ...base(),
    xAxis: categoryAxis(rows.map((r) => r.key), label, { rotate: rows.length > 6 }),
    yAxis: [countAxis(t), percentAxis(t, yieldAxisMin(lowest))],
    series: [bar('ok', t.ok, colors.ok, rows.map((r) => r.ok)), bar('ng', t.ng, colors.ng, rows.map((r) => r.ng)), yieldLine(t, yields, 1, rows.length <= 8)],
  };
}
