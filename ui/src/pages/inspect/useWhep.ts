// useWhep plays the agent's WHEP live preview in a <video> while enabled.
import { useEffect, useRef, useState, type RefObject } from 'react';
import { WhepClient, type WhepState } from './whep';

/** LiveOverlay is the agent's live pre-filter result on a frame (edge/agent Overlay). */
export interface LiveOverlay {
  score: number;
  label: string;
  suspect: boolean;
  model?: string;
}

function asOverlay(m: unknown): LiveOverlay | null {
  if (typeof m !== 'object' || m === null) return null;
  const o = m as Record<string, unknown>;
  if (typeof o.score !== 'number') return null;
  return { score: o.score, label: String(o.label ?? ''), suspect: o.suspect === true, model: typeof o.model === 'string' ? o.model : undefined };
}

export interface WhepView {
  state: WhepState;
  error: string | null;
  overlay: LiveOverlay | null;
  /** Failed negotiations or dropped sessions since mount (only grows). */
  failures: number;
  reconnect: () => void;
}

export function useWhep(endpoint: string, video: RefObject<HTMLVideoElement | null>, enabled: boolean): WhepView {
  const [state, setState] = useState<WhepState>('idle');
  const [error, setError] = useState<string | null>(null);
  const [overlay, setOverlay] = useState<LiveOverlay | null>(null);
  const [failures, setFailures] = useState(0);
  const client = useRef<WhepClient | null>(null);

  useEffect(() => {
    if (!enabled) return;
    const c = new WhepClient({
      endpoint,
      onTrack: (track, stream) => {
        const v = video.current;
        if (!v) return;
        v.srcObject = stream ?? new MediaStream([track]);
        v.play().catch(() => {
          // autoplay of a muted video is allowed; a refusal leaves the poster
        });
      },
      onState: (s, err) => {
        setState(s);
        setError(s === 'retrying' ? (err ?? null) : null);
        if (s === 'retrying') setFailures((n) => n + 1);
      },
      onOverlay: (m) => setOverlay(asOverlay(m)),
    });
    client.current = c;
    c.start();
    const leave = () => void c.stop();
    window.addEventListener('pagehide', leave);
    return () => {
      window.removeEventListener('pagehide', leave);
      client.current = null;
      void c.stop();
      if (video.current) video.current.srcObject = null;
    };
  }, [endpoint, enabled, video]);

  return { state, error, overlay, failures, reconnect: () => client.current?.reconnect() };
}
