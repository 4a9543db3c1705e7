import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { StillFrameLoop, type StillFrame, type StillState } from './stills';

// frameServer answers the frame endpoint with the given sequence numbers (then repeats the last).
function frameServer(seqs: (number | 503)[]) {
  let i = 0;
  const fetch = vi.fn(async () => {
    const s = seqs[Math.min(i++, seqs.length - 1)];
    if (s === 503) {
      return new Response(JSON.stringify({ status: 503, detail: 'no camera: unplugged' }), { status: 503, headers: { 'Content-Type': 'application/problem+json' } });
    }
    return new Response(new Blob([`jpeg ${s}`]), { status: 200, headers: { 'Content-Type': 'image/jpeg', 'X-Frame-Seq': String(s) } });
  });
  return fetch;
}

describe('StillFrameLoop', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  function setup(seqs: (number | 503)[], hidden = { v: false }) {
    const fetch = frameServer(seqs);
    const frames: StillFrame[] = [];
    const states: StillState[] = [];
    const revoked: string[] = [];
    let n = 0;
    let visibility: (() => void) | null = null;
    const loop = new StillFrameLoop({
      endpoint: 'http://127.0.0.1:8081/api/v1/preview/frame',
      onFrame: (f) => frames.push(f),
      onState: (s) => states.push(s),
      fetch: fetch as unknown as typeof globalThis.fetch,
      decode: () => Promise.resolve(),
      createObjectURL: () => `blob:frame-${++n}`,
      revokeObjectURL: (u) => revoked.push(u),
      now: () => Date.now(),
      hidden: () => hidden.v,
      onVisibilityChange: (fn) => {
        visibility = fn;
        return () => (visibility = null);
      },
    });
    return { loop, fetch, frames, states, revoked, visible: () => visibility?.() };
  }

  it('shows each new frame once decoded, at most 8 per second, and skips a repeated one', async () => {
    const { loop, fetch, frames, states, revoked } = setup([1, 2, 2, 3]);
    loop.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(frames).toEqual([{ url: 'blob:frame-1', seq: 1 }]);
    expect(states).toEqual(['connecting', 'playing']);
    await vi.advanceTimersByTimeAsync(1000);
    expect(fetch.mock.calls.length).toBeGreaterThanOrEqual(7);
    expect(fetch.mock.calls.length).toBeLessThanOrEqual(9); // 1 + 8 in a second
    expect(frames.map((f) => f.seq)).toEqual([1, 2, 3]);
    expect(revoked).toEqual([]); // handed-over URLs are the caller's to revoke
    loop.stop();
  });

  it('backs off while the camera is unavailable and recovers', async () => {
    const { loop, frames, states } = setup([503, 503, 7]);
    loop.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(loop.state).toBe('retrying');
    await vi.advanceTimersByTimeAsync(2000);
    expect(frames.map((f) => f.seq)).toEqual([7]);
    expect(states).toEqual(['connecting', 'retrying', 'retrying', 'playing']);
    loop.stop();
  });

  it('pauses while the page is hidden and stops for good on stop()', async () => {
    const hidden = { v: false };
    const { loop, fetch, visible } = setup([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], hidden);
    loop.start();
    await vi.advanceTimersByTimeAsync(300);
    hidden.v = true;
    await vi.advanceTimersByTimeAsync(200);
    const whileHidden = fetch.mock.calls.length;
    await vi.advanceTimersByTimeAsync(2000);
    expect(fetch.mock.calls.length).toBe(whileHidden);
    hidden.v = false;
    visible();
    await vi.advanceTimersByTimeAsync(300);
    expect(fetch.mock.calls.length).toBeGreaterThan(whileHidden);
    loop.stop();
    const stopped = fetch.mock.calls.length;
    await vi.advanceTimersByTimeAsync(2000);
    expect(fetch.mock.calls.length).toBe(stopped);
    expect(loop.state).toBe('closed');
  });
});
