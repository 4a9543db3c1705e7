// useStills shows the agent's still-frame live view while enabled: the
// newest frame's object URL and sequence, swapped only once decoded (no
// blank between frames). Every URL the loop hands over is revoked once a
// newer frame is on screen (or was never shown: renders batch), and all on unmount.
import { useEffect, useRef, useState } from 'react';
import { StillFrameLoop, type StillFrame, type StillOptions, type StillState } from './stills';

export interface StillsView {
  state: StillState;
  error: string | null;
  frame: StillFrame | null;
  retry: () => void;
}

export function useStills(endpoint: string, enabled: boolean, opts?: Partial<StillOptions>): StillsView {
  const [state, setState] = useState<StillState>('idle');
  const [error, setError] = useState<string | null>(null);
  const [frame, setFrame] = useState<StillFrame | null>(null);
  const loop = useRef<StillFrameLoop | null>(null);
  const issued = useRef(new Set<string>());
  const revoke = opts?.revokeObjectURL ?? ((u: string) => URL.revokeObjectURL(u));
  const revokeRef = useRef(revoke);
  revokeRef.current = revoke;
  const optsRef = useRef(opts);
  optsRef.current = opts;

  useEffect(() => {
    if (!enabled) return;
    const l = new StillFrameLoop({
      ...optsRef.current,
      endpoint,
      onFrame: (f) => {
        issued.current.add(f.url);
        setFrame(f);
      },
      onState: (s, err) => {
        setState(s);
        setError(s === 'retrying' ? (err ?? null) : null);
      },
    });
    loop.current = l;
    l.start();
    return () => {
      loop.current = null;
      l.stop();
      setFrame(null);
    };
  }, [endpoint, enabled]);

  // After a swap is committed, only the frame on screen is still needed.
  useEffect(() => {
    for (const u of issued.current) {
      if (u === frame?.url) continue;
      issued.current.delete(u);
      revokeRef.current(u);
    }
  }, [frame]);
  useEffect(() => {
    const all = issued.current;
    return () => {
      for (const u of all) revokeRef.current(u);
      all.clear();
    };
  }, []);

  return { state, error, frame, retry: () => loop.current?.retry() };
}
