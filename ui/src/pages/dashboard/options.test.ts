import { describe, expect, it } from 'vitest';
import { makeFmt } from './format';
import { breakdownOption, paretoData, paretoOption, trendOption, yieldAxisMin, yieldPercent, type ChartText } from './options';
import type { BarSeriesOption, LineSeriesOption } from 'echarts/charts';

const text = (lang = 'en'): ChartText => ({ ok: 'OK', ng: 'NG', yield: 'Yield', count: 'NG count', cumulative: 'Cumulative', fmt: makeFmt(lang) });
const c = (total: number, ng: number) => ({ total, ok: total - ng, ng, yield: total ? (total - ng) / total : 0 });

type Series = (BarSeriesOption | LineSeriesOption)[];
const seriesOf = (o: { series?: unknown }) => o.series as Series;
const byId = (o: { series?: unknown }, id: string) => seriesOf(o).find((s) => s.id === id);

describe('paretoData', () => {
  it('sorts descending and accumulates to 100 %', () => {
    const d = paretoData([
      { defect_type: 'dent', count: 2 },
      { defect_type: 'scratch', count: 5 },
      { defect_type: 'burr', count: 2 },
      { defect_type: 'stain', count: 1 },
    ]);
    expect(d.categories).toEqual(['scratch', 'burr', 'dent', 'stain']);
    expect(d.counts).toEqual([5, 2, 2, 1]);
    expect(d.cumulative).toEqual([50, 70, 90, 100]);
  });

  it('rounds to one decimal and keeps the last point at 100', () => {
    const d = paretoData([
      { defect_type: 'a', count: 1 },
      { defect_type: 'b', count: 1 },
      { defect_type: 'c', count: 1 },
    ]);
    expect(d.cumulative).toEqual([33.3, 66.7, 100]);
  });

  it('is empty for no defects', () => {
    expect(paretoData([])).toEqual({ categories: [], counts: [], cumulative: [] });
  });
});

describe('yield helpers', () => {
  it('yieldPercent is a gap when nothing was inspected', () => {
    expect(yieldPercent(c(3, 1))).toBe(66.7);
    expect(yieldPercent(c(0, 0))).toBeNull();
  });

  it('yieldAxisMin starts below the lowest yield, never above 90 or below 0', () => {
    expect(yieldAxisMin(97.5)).toBe(90);
    expect(yieldAxisMin(100)).toBe(90);
    expect(yieldAxisMin(66.7)).toBe(60);
    expect(yieldAxisMin(60)).toBe(50);
    expect(yieldAxisMin(0)).toBe(0);
    expect(yieldAxisMin(Infinity)).toBe(0); // Math.min() of no yields
  });
});

describe('trendOption', () => {
  const trend = [
    { start: '2026-11-30T08:00:00Z', ...c(10, 2) },
    { start: '2026-11-30T09:00:00Z', ...c(0, 0) },
    { start: '2026-11-30T10:00:00Z', ...c(4, 0) },
  ];

  it('has NG bars on the count axis and the yield line on the percent axis, gaps for empty buckets', () => {
    const o = trendOption(trend, 'hour', text());
    const ng = byId(o, 'ng') as BarSeriesOption;
    const y = byId(o, 'yield') as LineSeriesOption;
    expect(ng.type).toBe('bar');
    expect(ng.data).toEqual([2, 0, 0]);
    expect(ng.yAxisIndex).toBe(0);
    expect(y.type).toBe('line');
    expect(y.data).toEqual([80, null, 100]);
    expect(y.yAxisIndex).toBe(1);
    const axes = o.yAxis as { min?: number; max?: number }[];
    expect(axes[1]).toMatchObject({ min: 70, max: 100 });
  });

  it('keeps bucket starts as categories (clicks map back to them) and labels them in the language', () => {
    const o = trendOption(trend, 'hour', text('ja'));
    const x = o.xAxis as { data: string[]; axisLabel: { formatter: (v: string) => string } };
    expect(x.data).toEqual(trend.map((p) => p.start));
    expect(x.axisLabel.formatter(trend[0]!.start)).toMatch(/^\d{2}:00$/);
  });
});

describe('paretoOption', () => {
  it('draws counts and the cumulative line with translated names and labels', () => {
    const o = paretoOption(
      [
        { defect_type: 'dent', count: 1 },
        { defect_type: 'scratch', count: 3 },
      ],
      { ...text(), category: (code) => (code === 'scratch' ? 'Scratch' : code) },
    );
    expect((byId(o, 'count') as BarSeriesOption).data).toEqual([3, 1]);
    expect((byId(o, 'cumulative') as LineSeriesOption).data).toEqual([75, 100]);
    expect(byId(o, 'count')?.name).toBe('NG count');
    const x = o.xAxis as { data: string[]; triggerEvent: boolean; axisLabel: { formatter: (v: string) => string } };
    expect(x.data).toEqual(['scratch', 'dent']);
    expect(x.axisLabel.formatter('scratch')).toBe('Scratch');
    expect(x.triggerEvent).toBe(true);
  });
});

describe('breakdownOption', () => {
  it('stacks OK and NG per key with the yield line', () => {
    const o = breakdownOption(
      [
        { key: 'L1', ...c(20, 4) },
        { key: 'L2', ...c(10, 1) },
      ],
      text(),
    );
    const ok = byId(o, 'ok') as BarSeriesOption;
    const ng = byId(o, 'ng') as BarSeriesOption;
    expect(ok.data).toEqual([16, 9]);
    expect(ng.data).toEqual([4, 1]);
    expect(ok.stack).toBe(ng.stack);
    expect((byId(o, 'yield') as LineSeriesOption).data).toEqual([80, 90]);
  });

  it('formats tooltip values in the language', () => {
    const o = breakdownOption([{ key: 'L1', ...c(12345, 45) }], text('en'));
    const ok = byId(o, 'ok') as BarSeriesOption & { tooltip: { valueFormatter: (v: unknown) => string } };
    expect(ok.tooltip.valueFormatter(12300)).toBe('12,300');
    const y = byId(o, 'yield') as LineSeriesOption & { tooltip: { valueFormatter: (v: unknown) => string } };
    expect(y.tooltip.valueFormatter(99.6)).toBe('99.6%');
  });
});

describe('makeFmt', () => {
  it('formats numbers and percentages per language', () => {
    expect(makeFmt('en').num(12345)).toBe('12,345');
    expect(makeFmt('ja').num(12345)).toBe('12,345');
    expect(makeFmt('en').pct(2 / 3)).toBe('66.7%');
    expect(makeFmt('ja').pct(1)).toBe('100.0%');
    expect(makeFmt('en').pct(NaN)).toBe('—');
  });
});
