import { act, renderHook } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { useLiveView } from './useLiveView';

describe('useLiveView', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });

  it('falls back to still frames when the webview has no RTCPeerConnection, and stops the loop on unmount', async () => {
    vi.stubGlobal('RTCPeerConnection', undefined);
    let seq = 0;
    const fetch = vi.fn(async (url: string) => {
      expect(url).toBe('http://127.0.0.1:8081/api/v1/preview/frame');
      return new Response(new Blob(['jpeg']), { status: 200, headers: { 'X-Frame-Seq': String(++seq) } });
    });
    const whepFetch = vi.fn();
    vi.stubGlobal('fetch', whepFetch); // WHEP would POST through the global fetch
    const revoked: string[] = [];
    let n = 0;
    const video = { current: null };
    const { result, unmount } = renderHook(() =>
      useLiveView('http://127.0.0.1:8081', video, {
        showing: true,
        canPlay: true,
        stillOptions: {
          fetch: fetch as unknown as typeof globalThis.fetch,
          decode: () => Promise.resolve(),
          createObjectURL: () => `blob:f${++n}`,
          revokeObjectURL: (u) => revoked.push(u),
          now: () => Date.now(),
          hidden: () => false,
        },
      }),
    );
    expect(result.current.mode).toBe('stills');
    await act(() => vi.advanceTimersByTimeAsync(500));
    expect(result.current.stills?.state).toBe('playing');
    expect(result.current.stills?.frame?.seq).toBeGreaterThanOrEqual(3);
    expect(revoked.length).toBeGreaterThan(0); // replaced frames are released
    expect(whepFetch).not.toHaveBeenCalled();

    unmount();
    const calls = fetch.mock.calls.length;
    await vi.advanceTimersByTimeAsync(3000);
    expect(fetch.mock.calls.length).toBe(calls);
    expect(revoked).toContain(`blob:f${n}`); // the last frame shown is released too
  });

  it('uses WHEP where RTCPeerConnection exists', () => {
    class FakePC {
      addTransceiver() {}
      createDataChannel() {
        return { onmessage: null };
      }
      createOffer() {
        return new Promise(() => {}); // never: the test only looks at the mode
      }
      close() {}
    }
    vi.stubGlobal('RTCPeerConnection', FakePC);
    const fetch = vi.fn();
    const { result, unmount } = renderHook(() =>
      useLiveView('http://127.0.0.1:8081', { current: null }, { showing: true, canPlay: true, stillOptions: { fetch } }),
    );
    expect(result.current.mode).toBe('webrtc');
    expect(result.current.stills).toBeNull();
    unmount();
    expect(fetch).not.toHaveBeenCalled();
  });
});
