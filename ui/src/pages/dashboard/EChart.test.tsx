import { cleanup, render } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ChartOption } from './options';

// ECharts itself needs a canvas; the wrapper's job (init, options, clicks,
// dispose) is checked against a fake instance.
const fake = vi.hoisted(() => {
  const handlers = new Map<string, (ev: unknown) => void>();
  const inst = {
    setOption: vi.fn(),
    on: vi.fn((name: string, fn: (ev: unknown) => void) => handlers.set(name, fn)),
    resize: vi.fn(),
    dispose: vi.fn(),
    isDisposed: () => false,
  };
  return { inst, handlers, init: vi.fn(() => inst) };
});
vi.mock('echarts/core', () => ({ init: fake.init, use: vi.fn() }));
vi.mock('echarts/charts', () => ({ BarChart: {}, LineChart: {} }));
vi.mock('echarts/components', () => ({ GridComponent: {}, LegendComponent: {}, TooltipComponent: {} }));
vi.mock('echarts/renderers', () => ({ CanvasRenderer: {} }));

const { EChart } = await import('./EChart');

afterEach(() => cleanup());

describe('EChart', () => {
  it('initialises once, applies each option without merging, forwards clicks to the latest handler and disposes', () => {
    const a: ChartOption = { series: [{ type: 'bar', data: [1] }] };
    const b: ChartOption = { series: [{ type: 'bar', data: [2] }] };
    const first = vi.fn();
    const second = vi.fn();
    const { rerender, unmount, getByTestId } = render(<EChart option={a} onClick={first} label="NG by line" testId="c" />);
    expect(fake.init).toHaveBeenCalledTimes(1);
    expect(fake.inst.setOption).toHaveBeenLastCalledWith(a, { notMerge: true });
    const el = getByTestId('c') as HTMLDivElement & { chart?: unknown };
    expect(el.getAttribute('role')).toBe('img');
    expect(el.getAttribute('aria-label')).toBe('NG by line');
    expect(el.chart).toBe(fake.inst);

    rerender(<EChart option={b} onClick={second} label="NG by line" testId="c" />);
    expect(fake.init).toHaveBeenCalledTimes(1);
    expect(fake.inst.setOption).toHaveBeenLastCalledWith(b, { notMerge: true });
    fake.handlers.get('click')?.({ seriesId: 'ng', dataIndex: 0 });
    expect(first).not.toHaveBeenCalled();
    expect(second).toHaveBeenCalledWith({ seriesId: 'ng', dataIndex: 0 });

    unmount();
    expect(fake.inst.dispose).toHaveBeenCalledTimes(1);
    expect(el.chart).toBeUndefined();
  });
});
