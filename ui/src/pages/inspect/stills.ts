// The still-frame live view: for a webview without WebRTC (Debian's
// WebKitGTK), the newest camera frame is fetched from the agent's
// GET /api/v1/preview/frame again and again. The next fetch starts when the
// previous frame is decoded and on screen, at most maxFps times a second, and
// not at all while the page is hidden. Pure: fetch, image decoding, object
// URLs, timers and page visibility are injected, so tests drive it with fakes.
import { backoffMs } from './whep';

export type StillState = 'idle' | 'connecting' | 'playing' | 'retrying' | 'closed';

/** StillFrame is one frame ready to show: an object URL already decoded. */
export interface StillFrame {
  url: string;
  seq: number;
}

export interface StillOptions {
  /** Absolute or same-origin URL of the frame endpoint. */
  endpoint: string;
  /** Called with each new frame once it is decoded; the caller revokes the previous URL after the swap. */
  onFrame: (f: StillFrame) => void;
  /** Called on every state change; error says why the last fetch failed. */
  onState?: (state: StillState, error?: string) => void;
  maxFps?: number;
  fetch?: typeof fetch;
  /** Decodes the image at url (resolves when it can be painted without a blank). */
  decode?: (url: string) => Promise<void>;
  createObjectURL?: (b: Blob) => string;
  revokeObjectURL?: (url: string) => void;
  setTimeout?: (fn: () => void, ms: number) => unknown;
  clearTimeout?: (t: unknown) => void;
  now?: () => number;
  /** Whether the page is hidden, and a subscription to its changes (returns the unsubscribe). */
  hidden?: () => boolean;
  onVisibilityChange?: (fn: () => void) => () => void;
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

/** decodeImage loads url into a detached image and waits until it is decoded. */
export function decodeImage(url: string): Promise<void> {
  const img = new Image();
  img.src = url;
  if (typeof img.decode === 'function') return img.decode();
  return new Promise((resolve, reject) => {
    img.onload = () => resolve();
    img.onerror = () => reject(new Error('the frame does not decode'));
  });
}

export class StillFrameLoop {
  private readonly o: Required<Omit<StillOptions, 'onState'>> & Pick<StillOptions, 'onState'>;
  private timer: unknown = null;
  private running = false; // a fetch or decode is under way
  private stopped = true;
  private generation = 0;
  private attempt = 0;
  private lastSeq = -1;
  private lastStart = -Infinity;
  private unwatch: (() => void) | null = null;
  private _state: StillState = 'idle';

  constructor(opts: StillOptions) {
    this.o = {
      maxFps: 8,
      fetch: (...a) => globalThis.fetch(...a),
      decode: decodeImage,
      createObjectURL: (b) => URL.createObjectURL(b),
      revokeObjectURL: (u) => URL.revokeObjectURL(u),
      setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
      clearTimeout: (t) => globalThis.clearTimeout(t as ReturnType<typeof setTimeout>),
      now: () => performance.now(),
      hidden: () => typeof document !== 'undefined' && document.hidden,
      onVisibilityChange: (fn) => {
        if (typeof document === 'undefined') return () => {};
        document.addEventListener('visibilitychange', fn);
        return () => document.removeEventListener('visibilitychange', fn);
      },
      minBackoffMs: 500,
      maxBackoffMs: 5000,
      ...opts,
    };
  }

  get state(): StillState {
    return this._state;
  }

  /** start fetches frames until stop(). */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.attempt = 0;
    this.setState('connecting');
    this.unwatch = this.o.onVisibilityChange(() => {
      if (!this.o.hidden()) this.schedule(0);
    });
    this.schedule(0);
  }

  /** retry fetches now, ending any backoff. */
  retry(): void {
    if (this.stopped) return;
    this.attempt = 0;
    this.schedule(0);
  }

  /** stop ends the loop; a fetch under way is dropped when it returns. */
  stop(): void {
    this.stopped = true;
    this.generation++;
    this.clearTimer();
    this.running = false;
    this.unwatch?.();
    this.unwatch = null;
    this.setState('closed');
  }

  private setState(s: StillState, error?: string): void {
    if (s === this._state && s !== 'retrying') return;
    this._state = s;
    this.o.onState?.(s, error);
  }

  private clearTimer(): void {
    if (this.timer !== null) this.o.clearTimeout(this.timer);
    this.timer = null;
  }

  /** schedule the next fetch after wait ms, no sooner than 1/maxFps after the last one started. */
  private schedule(wait: number): void {
    if (this.stopped || this.running) return;
    this.clearTimer();
    const pace = this.lastStart + 1000 / this.o.maxFps - this.o.now();
    this.timer = this.o.setTimeout(() => {
      this.timer = null;
      void this.tick();
    }, Math.max(0, wait, pace));
  }

  private async tick(): Promise<void> {
    if (this.stopped || this.running) return;
    if (this.o.hidden()) return; // resumed by the visibility change
    const gen = this.generation;
    this.running = true;
    this.lastStart = this.o.now();
    let url: string | null = null;
    try {
      let res: Response;
      try {
        res = await this.o.fetch(this.o.endpoint, { cache: 'no-store' });
      } catch (e) {
        throw new Error(e instanceof Error ? e.message : String(e));
      }
      if (gen !== this.generation) return;
      if (res.status !== 200) {
        const text = await res.text().catch(() => '');
        throw new Error(`${res.status} ${problemDetail(text) || res.statusText}`);
      }
      const seq = Number(res.headers.get('X-Frame-Seq') ?? NaN);
      const blob = await res.blob();
      if (gen !== this.generation) return;
      // The same frame again (the camera is slower than the loop): nothing to swap.
      if (!(Number.isFinite(seq) && seq === this.lastSeq)) {
        url = this.o.createObjectURL(blob);
        await this.o.decode(url);
        if (gen !== this.generation) return;
        this.lastSeq = Number.isFinite(seq) ? seq : this.lastSeq + 1;
        const frame = { url, seq: this.lastSeq };
        url = null; // handed over: the caller revokes it after the next swap
        this.o.onFrame(frame);
      }
      this.attempt = 0;
      this.setState('playing');
      this.running = false;
      this.schedule(0);
    } catch (e) {
      if (gen !== this.generation) return;
      this.running = false;
      const wait = backoffMs(this.attempt++, this.o.minBackoffMs, this.o.maxBackoffMs);
      this.setState('retrying', e instanceof Error ? e.message : String(e));
      this.schedule(wait);
    } finally {
      if (url) this.o.revokeObjectURL(url);
    }
  }
}

/** problemDetail is the detail of an RFC 9457 problem body, else the text. */
function problemDetail(text: string): string {
  try {
    const p = JSON.parse(text) as { detail?: unknown };
    if (typeof p.detail === 'string') return p.detail;
  } catch {
    // not JSON
  }
  return text.trim();
}
