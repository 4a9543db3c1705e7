import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, render, screen, within } from '@testing-library/react';
import i18n from '../../i18n';
import { labelSide, NodeTimeline } from './NodeTimeline';

beforeAll(async () => {
  await i18n.changeLanguage('en');
});
afterEach(cleanup);

const t0 = Date.parse('2026-01-01T00:00:00Z');
const at = (ms: number) => new Date(t0 + ms).toISOString();

describe('NodeTimeline', () => {
  it('draws one bar per started node with its duration, retries and errors', () => {
    render(
      <NodeTimeline
        now={t0 + 1000}
        parts={{ resize: 'resize', blur: 'gaussian_blur', detect: 'detect' }}
        execution={{
          execution_id: 'e',
          pipeline_id: 'p',
          pipeline_version: 1,
          inputs: [],
          status: 'failed',
          started_at: at(0),
          finished_at: at(400),
          nodes: [
            { node_id: 'resize', status: 'succeeded', started_at: at(0), finished_at: at(100), attempts: 1 },
            { node_id: 'blur', status: 'failed', started_at: at(100), finished_at: at(400), attempts: 3, error: 'deadline exceeded' },
            { node_id: 'detect', status: 'skipped', error: 'upstream node blur failed' },
          ],
        }}
      />,
    );
    const rows = screen.getAllByTestId('timeline-row');
    expect(rows.map((r) => r.dataset.node)).toEqual(['resize', 'blur', 'detect']);
    const bars = screen.getAllByTestId('timeline-bar');
    expect(bars).toHaveLength(2);
    const pos = (el: HTMLElement) => [parseFloat(el.style.left), parseFloat(el.style.width)];
    expect(pos(bars[0]!)).toEqual([0, 25]);
    expect(pos(bars[1]!)).toEqual([25, 75]);
    expect(within(rows[0]!).getByText('100 ms')).toBeTruthy();
    expect(within(rows[1]!).getByText('300 ms')).toBeTruthy();
    // The part is shown under a node id that differs from it.
    expect(within(rows[1]!).getByText('gaussian_blur')).toBeTruthy();
    expect(within(rows[0]!).queryByText('resize', { selector: '.tl-part' })).toBeNull();
    expect(within(rows[1]!).getByText('×3')).toBeTruthy();
    expect(within(rows[1]!).getByRole('alert').textContent).toContain('deadline exceeded');
    expect(within(rows[2]!).getByText(/Not started/).textContent).toContain('upstream node blur failed');
    // Axis ticks: 0, 100 ms, ... 400 ms.
    expect(screen.getByText('400 ms')).toBeTruthy();
  });
});

describe('labelSide', () => {
  it('keeps duration labels on the track', () => {
    expect(labelSide(0, 0.3)).toBe('after');
    expect(labelSide(0.5, 0.45)).toBe('before');
    expect(labelSide(0, 1)).toBe('inside');
  });
});
