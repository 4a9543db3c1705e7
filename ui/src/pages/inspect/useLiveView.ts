// useLiveView picks how the stage shows the camera: the WHEP video where the
// webview has WebRTC, else (Debian's WebKitGTK has none) or after repeated
// failed negotiations with the agent and camera up, the still-frame view.
import { useEffect, useRef, useState, type RefObject } from 'react';
import type { StillOptions } from './stills';
import { useStills, type StillsView } from './useStills';
import { useWhep, type WhepView } from './useWhep';

export type LiveMode = 'webrtc' | 'stills';

/** Failed WHEP negotiations in a row, with the agent and camera up, before the still-frame view takes over. */
export const WHEP_FAILURES_FOR_STILLS = 3;

/** hasWebRTC reports whether this page can play WHEP at all. */
export function hasWebRTC(): boolean {
  return typeof globalThis.RTCPeerConnection !== 'undefined';
}

export interface LiveView {
  mode: LiveMode;
  whep: WhepView;
  /** The still-frame view; null in WebRTC mode. */
  stills: StillsView | null;
  /** Renegotiate (or refetch) now, ending any backoff. */
  retry: () => void;
}

export function useLiveView(edgeBase: string, video: RefObject<HTMLVideoElement | null>, { showing, canPlay, stillOptions }: {
  /** The live view is on screen (no capture shown): the still loop runs only then. */
  showing: boolean;
  /** The agent is reachable and the camera is live: failures count only then. */
  canPlay: boolean;
  stillOptions?: Partial<StillOptions>;
}): LiveView {
  const [webrtc] = useState(hasWebRTC);
  const [gaveUp, setGaveUp] = useState(false);
  const mode: LiveMode = webrtc && !gaveUp ? 'webrtc' : 'stills';
  const whep = useWhep(`${edgeBase}/whep`, video, mode === 'webrtc');
  const stills = useStills(`${edgeBase}/api/v1/preview/frame`, mode === 'stills' && showing, stillOptions);

  const count = useRef({ run: 0, seen: 0 });
  useEffect(() => {
    const c = count.current;
    const fresh = whep.failures - c.seen;
    c.seen = whep.failures;
    if (!canPlay || whep.state === 'connected') {
      c.run = 0;
      return;
    }
    c.run += Math.max(0, fresh);
    if (c.run >= WHEP_FAILURES_FOR_STILLS) setGaveUp(true);
  }, [whep.failures, whep.state, canPlay]);

  return {
    mode,
    whep,
    stills: mode === 'stills' ? stills : null,
    retry: mode === 'webrtc' ? whep.reconnect : stills.retry,
  };
}
