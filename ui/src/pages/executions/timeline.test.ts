import { describe, expect, it } from 'vitest';
import { layoutTimeline, niceStep, ticksFor } from './timeline';

const t0 = '2026-01-01T00:00:00.000Z';
const at = (ms: number) => new Date(Date.parse(t0) + ms).toISOString();

describe('niceStep', () => {
  it.each([
    [0.7, 1],
    [1, 1],
    [1.2, 2],
    [3, 5],
    [7, 10],
    [16.6, 20],
    [130, 200],
    [4000, 5000],
  ])('%d → %d', (raw, want) => expect(niceStep(raw)).toBe(want));
  it('falls back to 1 for nonsense', () => {
    expect(niceStep(0)).toBe(1);
    expect(niceStep(Number.NaN)).toBe(1);
  });
});

describe('ticksFor', () => {
  it('spans 0..total in nice steps', () => {
    expect(ticksFor(130).map((t) => t.ms)).toEqual([0, 50, 100]);
    expect(ticksFor(1000).map((t) => t.ms)).toEqual([0, 200, 400, 600, 800, 1000]);
    expect(ticksFor(1000).at(-1)?.at).toBe(1);
  });
});

describe('layoutTimeline', () => {
  it('positions bars by start and finish relative to the execution start', () => {
    const l = layoutTimeline(
      {
        status: 'succeeded',
        started_at: t0,
        finished_at: at(200),
        nodes: [
          { node_id: 'resize', status: 'succeeded', started_at: at(0), finished_at: at(50), attempts: 1 },
          { node_id: 'blur', status: 'succeeded', started_at: at(50), finished_at: at(100), attempts: 1 },
          { node_id: 'detect', status: 'succeeded', started_at: at(100), finished_at: at(200), attempts: 2 },
        ],
      },
      Date.parse(at(10_000)),
    );
    expect(l.totalMs).toBe(200);
    expect(l.bars.map((b) => [b.nodeId, b.left, b.width, b.durationMs])).toEqual([
      ['resize', 0, 0.25, 50],
      ['blur', 0.25, 0.25, 50],
      ['detect', 0.5, 0.5, 100],
    ]);
    expect(l.bars[2]?.attempts).toBe(2);
    expect(l.bars.every((b) => b.started)).toBe(true);
  });

  it('runs the track to now and grows the running bar while the execution runs', () => {
    const l = layoutTimeline(
      {
        status: 'running',
        started_at: t0,
        nodes: [
          { node_id: 'a', status: 'succeeded', started_at: at(0), finished_at: at(100) },
          { node_id: 'b', status: 'running', started_at: at(100) },
          { node_id: 'c', status: 'queued' },
        ],
      },
      Date.parse(at(400)),
    );
    expect(l.totalMs).toBe(400);
    const [a, b, c] = l.bars;
    expect(a).toMatchObject({ left: 0, width: 0.25, durationMs: 100, attempts: 1 });
    expect(b).toMatchObject({ left: 0.25, width: 0.75, durationMs: 300, running: true });
    expect(c).toMatchObject({ started: false, width: 0, durationMs: null, attempts: 0 });
  });

  it('keeps tiny bars visible and inside the track', () => {
    const l = layoutTimeline(
      {
        status: 'succeeded',
        started_at: t0,
        finished_at: at(10_000),
        nodes: [
          { node_id: 'fast', status: 'succeeded', started_at: at(0), finished_at: at(1) },
          { node_id: 'last', status: 'succeeded', started_at: at(9_999), finished_at: at(10_000) },
        ],
      },
      0,
      0.01,
    );
    expect(l.bars[0]).toMatchObject({ left: 0, width: 0.01, durationMs: 1 });
    expect(l.bars[1]!.width).toBe(0.01);
    expect(l.bars[1]!.left + l.bars[1]!.width).toBeLessThanOrEqual(1);
    expect(l.bars[1]!.left).toBeCloseTo(0.99, 6);
  });

  it('extends the track to a node that finished after the recorded finish and tolerates missing times', () => {
    const l = layoutTimeline(
      {
        status: 'failed',
        created_at: t0,
        nodes: [
          { node_id: 'a', status: 'failed', started_at: at(20), finished_at: at(120), error: 'boom', attempts: 3 },
          { node_id: 'b', status: 'skipped' },
        ],
      },
      Date.parse(at(99_999)),
    );
    // No started_at on the execution: the first node's start is the origin.
    expect(l.totalMs).toBe(100);
    expect(l.bars[0]).toMatchObject({ left: 0, width: 1, error: 'boom', attempts: 3 });
    expect(l.bars[1]!.started).toBe(false);
  });

  it('has a span of at least 1 ms when nothing has run', () => {
    const l = layoutTimeline({ status: 'queued', created_at: t0, nodes: [{ node_id: 'a', status: 'queued' }] }, Date.parse(t0));
    expect(l.totalMs).toBe(1);
    expect(l.bars[0]!.started).toBe(false);
  });
});
