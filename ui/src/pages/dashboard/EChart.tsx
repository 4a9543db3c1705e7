// EChart renders one Apache ECharts chart on a canvas: it initialises on
// mount, applies option changes, follows its container's size and disposes
// on unmount. Only the chart types and components the dashboard uses are
// registered, to keep the charts chunk small.
import { useEffect, useRef } from 'react';
import { init, use, type ECElementEvent, type ECharts } from 'echarts/core';
import { BarChart, LineChart } from 'echarts/charts';
import { GridComponent, LegendComponent, TooltipComponent } from 'echarts/components';
import { CanvasRenderer } from 'echarts/renderers';
import type { ChartOption } from './options';

use([BarChart, LineChart, GridComponent, LegendComponent, TooltipComponent, CanvasRenderer]);

/** ChartElement is the chart's container; `chart` is set for end-to-end tests, which locate bars with convertToPixel. */
export type ChartElement = HTMLDivElement & { chart?: ECharts };

export interface EChartProps {
  option: ChartOption;
  onClick?: (ev: ECElementEvent) => void;
  height?: number;
  /** Accessible name of the chart (the canvas itself has none). */
  label: string;
  testId?: string;
}

export function EChart({ option, onClick, height = 280, label, testId }: EChartProps) {
  const ref = useRef<ChartElement>(null);
  const chart = useRef<ECharts | null>(null);
  const click = useRef(onClick);
  useEffect(() => {
    click.current = onClick;
  }, [onClick]);

  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const c = init(el, undefined, { renderer: 'canvas' });
    chart.current = c;
    el.chart = c;
    c.on('click', (ev) => click.current?.(ev));
    let frame = 0;
    const resize = () => {
      cancelAnimationFrame(frame);
      frame = requestAnimationFrame(() => !c.isDisposed() && c.resize());
    };
    const ro = typeof ResizeObserver !== 'undefined' ? new ResizeObserver(resize) : null;
    if (ro) ro.observe(el);
    else window.addEventListener('resize', resize);
    return () => {
      cancelAnimationFrame(frame);
      if (ro) ro.disconnect();
      else window.removeEventListener('resize', resize);
      delete el.chart;
      chart.current = null;
      c.dispose();
    };
  }, []);

  useEffect(() => {
    chart.current?.setOption(option, { notMerge: true });
  }, [option]);

  return <div ref={ref} className="echart" style={{ height }} role="img" aria-label={label} data-testid={testId} />;
}
