// A WHEP (RFC 9725 style, WebRTC-HTTP egress) player client for the edge
// agent's live preview. Pure: the browser objects it needs (fetch,
// RTCPeerConnection, timers) are injected, so tests drive it with fakes.
//
// The agent's WHEP server does not do trickle ICE (PATCH answers 405), so
// the offer is sent once ICE gathering is complete (or after a short
// timeout) with every host candidate in it. On any failure — POST refused,
// network down, connection "failed", or "disconnected" for too long — the
// session is torn down (DELETE on its resource, best effort) and a new one
// is negotiated after a backoff, until stop().

export type WhepState = 'idle' | 'connecting' | 'connected' | 'retrying' | 'closed';

/** The slice of RTCPeerConnection the client uses. */
export interface PeerConnectionLike {
  addTransceiver(kind: 'video' | 'audio', init: { direction: 'recvonly' }): unknown;
  createDataChannel(label: string): { onmessage: ((ev: { data: unknown }) => void) | null };
  createOffer(): Promise<{ type: string; sdp?: string }>;
  setLocalDescription(d: { type: string; sdp?: string }): Promise<void>;
  setRemoteDescription(d: { type: 'answer'; sdp: string }): Promise<void>;
  readonly localDescription: { sdp: string } | null;
  readonly iceGatheringState: string;
  readonly connectionState: string;
  ontrack: ((ev: { track: MediaStreamTrack; streams: readonly MediaStream[] }) => void) | null;
  onconnectionstatechange: (() => void) | null;
  onicegatheringstatechange: (() => void) | null;
  close(): void;
}

export interface WhepOptions {
  /** Absolute or same-origin URL of the WHEP endpoint, e.g. http://127.0.0.1:8081/whep. */
  endpoint: string;
  /** Called with the remote track and its stream when media arrives. */
  onTrack: (track: MediaStreamTrack, stream: MediaStream | undefined) => void;
  /** Called on every state change; error says why the last attempt failed. */
  onState?: (state: WhepState, error?: string) => void;
  /** Called with each JSON message of the "overlay" data channel (live pre-filter results). */
  onOverlay?: (msg: unknown) => void;
  fetch?: typeof fetch;
  createPeerConnection?: () => PeerConnectionLike;
  setTimeout?: (fn: () => void, ms: number) => unknown;
  clearTimeout?: (t: unknown) => void;
  /** Longest wait for ICE gathering before the offer is sent anyway. */
  gatherTimeoutMs?: number;
  /** How long "disconnected" may last before a reconnect. */
  disconnectGraceMs?: number;
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

/** WhepError is a refused WHEP request; status 0 means the network failed. */
export class WhepError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = 'WhepError';
    this.status = status;
  }
}

/** backoffMs is the wait before reconnect attempt n (0-based): doubling from min, capped at max. */
export function backoffMs(attempt: number, min = 500, max = 10_000): number {
  return Math.min(max, min * 2 ** Math.min(attempt, 20));
}

/** resolveLocation turns the Location header into an absolute URL against the endpoint. */
export function resolveLocation(location: string | null, endpoint: string, base: string): string | null {
  if (!location) return null;
  try {
    return new URL(location, new URL(endpoint, base)).toString();
  } catch {
    return null;
  }
}

export class WhepClient {
  private readonly o: Required<Omit<WhepOptions, 'onState' | 'onOverlay'>> & Pick<WhepOptions, 'onState' | 'onOverlay'>;
  private pc: PeerConnectionLike | null = null;
  private resource: string | null = null;
  private timer: unknown = null;
  private graceTimer: unknown = null;
  private attempt = 0;
  private generation = 0;
  private stopped = true;
  private _state: WhepState = 'idle';

  constructor(opts: WhepOptions) {
    this.o = {
      fetch: (...a) => globalThis.fetch(...a),
      createPeerConnection: () => new RTCPeerConnection() as unknown as PeerConnectionLike,
      setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
      clearTimeout: (t) => globalThis.clearTimeout(t as ReturnType<typeof setTimeout>),
      gatherTimeoutMs: 2000,
      disconnectGraceMs: 3000,
      minBackoffMs: 500,
      maxBackoffMs: 10_000,
      ...opts,
    };
  }

  get state(): WhepState {
    return this._state;
  }

  /** start negotiates a session and keeps one up until stop(). */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.attempt = 0;
    void this.connect();
  }

  /** reconnect drops the current session and negotiates a new one now. */
  reconnect(): void {
    if (this.stopped) return;
    this.generation++;
    this.clearTimers();
    this.attempt = 0;
    void this.teardown().then(() => {
      if (!this.stopped) void this.connect();
    });
  }

  /** stop ends the session: DELETE on its resource and close the peer connection. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.generation++;
    this.clearTimers();
    await this.teardown();
    this.setState('closed');
  }

  private setState(s: WhepState, error?: string): void {
    this._state = s;
    this.o.onState?.(s, error);
  }

  private clearTimers(): void {
    if (this.timer !== null) this.o.clearTimeout(this.timer);
    if (this.graceTimer !== null) this.o.clearTimeout(this.graceTimer);
    this.timer = null;
    this.graceTimer = null;
  }

  private async teardown(): Promise<void> {
    const pc = this.pc;
    const resource = this.resource;
    this.pc = null;
    this.resource = null;
    if (pc) {
      pc.ontrack = null;
      pc.onconnectionstatechange = null;
      pc.onicegatheringstatechange = null;
      pc.close();
    }
    if (resource) {
      try {
        await this.o.fetch(resource, { method: 'DELETE', keepalive: true });
      } catch {
        // The agent may be gone; its session times out on its own.
      }
    }
  }

  private async connect(): Promise<void> {
    const gen = ++this.generation;
    this.setState('connecting');
    const pc = this.o.createPeerConnection();
    this.pc = pc;
    try {
      pc.addTransceiver('video', { direction: 'recvonly' });
      const dc = pc.createDataChannel('overlay');
      dc.onmessage = (ev) => {
        if (!this.o.onOverlay || typeof ev.data !== 'string') return;
        try {
          this.o.onOverlay(JSON.parse(ev.data));
        } catch {
          // not JSON: ignore
        }
      };
      pc.ontrack = (ev) => this.o.onTrack(ev.track, ev.streams[0]);
      pc.onconnectionstatechange = () => this.onConnectionState(gen, pc);
      await pc.setLocalDescription(await pc.createOffer());
      await this.gathered(pc);
      if (gen !== this.generation) return;
      const sdp = pc.localDescription?.sdp ?? '';
      let res: Response;
      try {
        res = await this.o.fetch(this.o.endpoint, {
          method: 'POST',
          headers: { 'Content-Type': 'application/sdp', Accept: 'application/sdp' },
          body: sdp,
        });
      } catch (e) {
        throw new WhepError(0, e instanceof Error ? e.message : String(e));
      }
      if (gen !== this.generation) return;
      if (res.status !== 201) {
        const text = await res.text().catch(() => '');
        throw new WhepError(res.status, `${res.status} ${text.trim() || res.statusText}`);
      }
      const base = typeof window !== 'undefined' ? window.location.href : 'http://localhost/';
      this.resource = resolveLocation(res.headers.get('Location'), this.o.endpoint, base);
      const answer = await res.text();
      if (gen !== this.generation) return;
      await pc.setRemoteDescription({ type: 'answer', sdp: answer });
      if (pc.connectionState === 'connected') this.onConnectionState(gen, pc);
    } catch (e) {
      if (gen !== this.generation) return;
      this.fail(e instanceof Error ? e.message : String(e));
    }
  }

  private gathered(pc: PeerConnectionLike): Promise<void> {
    if (pc.iceGatheringState === 'complete') return Promise.resolve();
    return new Promise((resolve) => {
      const t = this.o.setTimeout(resolve, this.o.gatherTimeoutMs);
      pc.onicegatheringstatechange = () => {
        if (pc.iceGatheringState === 'complete') {
          this.o.clearTimeout(t);
          resolve();
        }
      };
    });
  }

  private onConnectionState(gen: number, pc: PeerConnectionLike): void {
    if (gen !== this.generation || pc !== this.pc) return;
    switch (pc.connectionState) {
      case 'connected':
        this.attempt = 0;
        if (this.graceTimer !== null) this.o.clearTimeout(this.graceTimer);
        this.graceTimer = null;
        this.setState('connected');
        break;
      case 'disconnected':
        if (this.graceTimer === null) {
          this.graceTimer = this.o.setTimeout(() => {
            this.graceTimer = null;
            if (gen === this.generation && pc.connectionState !== 'connected') this.fail('connection lost');
          }, this.o.disconnectGraceMs);
        }
        break;
      case 'failed':
      case 'closed':
        this.fail(`connection ${pc.connectionState}`);
        break;
    }
  }

  private fail(reason: string): void {
    if (this.stopped) return;
    this.generation++;
    this.clearTimers();
    const wait = backoffMs(this.attempt++, this.o.minBackoffMs, this.o.maxBackoffMs);
    this.setState('retrying', reason);
    void this.teardown();
    this.timer = this.o.setTimeout(() => {
      this.timer = null;
      if (!this.stopped) void this.connect();
    }, wait);
  }
}
