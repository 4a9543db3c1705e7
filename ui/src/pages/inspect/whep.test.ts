import { describe, expect, it, vi } from 'vitest';
import { backoffMs, resolveLocation, WhepClient, type PeerConnectionLike, type WhepState } from './whep';

// FakePC records what the client does and lets the test move its states.
class FakePC implements PeerConnectionLike {
  static all: FakePC[] = [];
  transceivers: unknown[] = [];
  channels: { label: string; ch: { onmessage: ((ev: { data: unknown }) => void) | null } }[] = [];
  local: { type: string; sdp?: string } | null = null;
  remote: { type: 'answer'; sdp: string } | null = null;
  iceGatheringState = 'gathering';
  connectionState = 'new';
  closed = false;
  ontrack: PeerConnectionLike['ontrack'] = null;
  onconnectionstatechange: (() => void) | null = null;
  onicegatheringstatechange: (() => void) | null = null;
  constructor() {
    FakePC.all.push(this);
  }
  addTransceiver(kind: string, init: unknown) {
    this.transceivers.push({ kind, init });
    return {};
  }
  createDataChannel(label: string) {
    const ch = { onmessage: null };
    this.channels.push({ label, ch });
    return ch;
  }
  async createOffer() {
    return { type: 'offer', sdp: 'v=0 offer-without-candidates' };
  }
  async setLocalDescription(d: { type: string; sdp?: string }) {
    this.local = d;
    // Gathering finishes a moment later and adds the candidates.
    setTimeout(() => {
      this.local = { type: 'offer', sdp: 'v=0 offer a=candidate:1' };
      this.iceGatheringState = 'complete';
      this.onicegatheringstatechange?.();
    }, 5);
  }
  async setRemoteDescription(d: { type: 'answer'; sdp: string }) {
    this.remote = d;
  }
  get localDescription() {
    return this.local?.sdp ? { sdp: this.local.sdp } : null;
  }
  close() {
    this.closed = true;
    this.connectionState = 'closed';
  }
  move(state: string) {
    this.connectionState = state;
    this.onconnectionstatechange?.();
  }
}

interface Call {
  url: string;
  init: RequestInit | undefined;
}

function fakeFetch(responses: (() => Response | Promise<Response>)[]) {
  const calls: Call[] = [];
  const fn = vi.fn(async (url: RequestInfo | URL, init?: RequestInit) => {
    calls.push({ url: String(url), init });
    if (init?.method === 'DELETE') return new Response(null, { status: 200 });
    const next = responses.shift();
    if (!next) throw new TypeError('Failed to fetch');
    return next();
  });
  return { fn: fn as unknown as typeof fetch, calls };
}

const answer = () => new Response('v=0 answer', { status: 201, headers: { Location: '/whep/abc123', 'Content-Type': 'application/sdp' } });

async function settle(ms = 20) {
  await vi.advanceTimersByTimeAsync(ms);
}

function client(fetchFn: typeof fetch, states: [WhepState, string | undefined][], extra: Partial<ConstructorParameters<typeof WhepClient>[0]> = {}) {
  return new WhepClient({
    endpoint: 'http://127.0.0.1:8081/whep',
    fetch: fetchFn,
    createPeerConnection: () => new FakePC(),
    onTrack: () => {},
    onState: (s, e) => states.push([s, e]),
    minBackoffMs: 100,
    maxBackoffMs: 1000,
    ...extra,
  });
}

describe('WhepClient', () => {
  it('POSTs a recvonly offer with its candidates as application/sdp and applies the answer', async () => {
    vi.useFakeTimers();
    FakePC.all = [];
    const { fn, calls } = fakeFetch([answer]);
    const states: [WhepState, string | undefined][] = [];
    const c = client(fn, states);
    c.start();
    await settle();
    const pc = FakePC.all[0]!;
    expect(pc.transceivers).toEqual([{ kind: 'video', init: { direction: 'recvonly' } }]);
    expect(pc.channels.map((x) => x.label)).toEqual(['overlay']);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.url).toBe('http://127.0.0.1:8081/whep');
    expect(calls[0]!.init?.method).toBe('POST');
    expect(new Headers(calls[0]!.init?.headers).get('Content-Type')).toBe('application/sdp');
    expect(calls[0]!.init?.body).toBe('v=0 offer a=candidate:1'); // sent after gathering completed
    expect(pc.remote).toEqual({ type: 'answer', sdp: 'v=0 answer' });
    pc.move('connected');
    expect(c.state).toBe('connected');
    vi.useRealTimers();
  });

  it('DELETEs the session resource (Location resolved against the endpoint) on stop', async () => {
    vi.useFakeTimers();
    FakePC.all = [];
    const { fn, calls } = fakeFetch([answer]);
    const c = client(fn, []);
    c.start();
    await settle();
    await c.stop();
    expect(calls.at(-1)).toMatchObject({ url: 'http://127.0.0.1:8081/whep/abc123', init: { method: 'DELETE' } });
    expect(FakePC.all[0]!.closed).toBe(true);
    expect(c.state).toBe('closed');
    vi.useRealTimers();
  });

  it('retries with backoff when the POST is refused or the network is down', async () => {
    vi.useFakeTimers();
    FakePC.all = [];
    const { fn, calls } = fakeFetch([
      () => new Response('camera not available', { status: 503 }),
      () => Promise.reject(new TypeError('Failed to fetch')),
      answer,
    ]);
    const states: [WhepState, string | undefined][] = [];
    const c = client(fn, states);
    c.start();
    await settle();
    expect(states.at(-1)).toEqual(['retrying', '503 camera not available']);
    expect(FakePC.all[0]!.closed).toBe(true);
    await settle(100); // first backoff
    expect(states.at(-1)?.[0]).toBe('retrying');
    await settle(150); // not yet: the second backoff is 200 ms
    expect(calls.filter((x) => x.init?.method === 'POST')).toHaveLength(2);
    await settle(100);
    expect(calls.filter((x) => x.init?.method === 'POST')).toHaveLength(3);
    FakePC.all.at(-1)!.move('connected');
    expect(c.state).toBe('connected');
    await c.stop();
    vi.useRealTimers();
  });

  it('reconnects after the connection fails, and after a disconnect that outlasts the grace period', async () => {
    vi.useFakeTimers();
    FakePC.all = [];
    const { fn, calls } = fakeFetch([answer, answer, answer]);
    const c = client(fn, [], { disconnectGraceMs: 1000 });
    c.start();
    await settle();
    FakePC.all[0]!.move('connected');
    FakePC.all[0]!.move('failed');
    expect(c.state).toBe('retrying');
    // The failed session's resource is deleted.
    await settle(1);
    expect(calls.some((x) => x.init?.method === 'DELETE' && x.url.endsWith('/whep/abc123'))).toBe(true);
    await settle(120);
    expect(FakePC.all).toHaveLength(2);
    const second = FakePC.all[1]!;
    second.move('connected');
    second.move('disconnected');
    await settle(500);
    expect(c.state).toBe('connected'); // still within grace
    second.move('connected'); // recovered on its own
    second.move('disconnected');
    await settle(1001);
    expect(c.state).toBe('retrying');
    await settle(120);
    expect(FakePC.all).toHaveLength(3);
    await c.stop();
    vi.useRealTimers();
  });

  it('passes tracks and overlay messages through', async () => {
    vi.useFakeTimers();
    FakePC.all = [];
    const { fn } = fakeFetch([answer]);
    const tracks: unknown[] = [];
    const overlays: unknown[] = [];
    const c = client(fn, [], { onTrack: (t) => tracks.push(t), onOverlay: (m) => overlays.push(m) });
    c.start();
    await settle();
    const pc = FakePC.all[0]!;
    const track = { kind: 'video' } as MediaStreamTrack;
    pc.ontrack?.({ track, streams: [] });
    pc.channels[0]!.ch.onmessage?.({ data: '{"score":0.4,"label":"suspect"}' });
    pc.channels[0]!.ch.onmessage?.({ data: 'not json' });
    expect(tracks).toEqual([track]);
    expect(overlays).toEqual([{ score: 0.4, label: 'suspect' }]);
    await c.stop();
    vi.useRealTimers();
  });

  it('stop during negotiation leaves nothing running', async () => {
    vi.useFakeTimers();
    FakePC.all = [];
    const { fn, calls } = fakeFetch([answer]);
    const c = client(fn, []);
    c.start();
    await c.stop(); // before gathering finished
    await settle(50);
    expect(calls.filter((x) => x.init?.method === 'POST')).toHaveLength(0);
    expect(c.state).toBe('closed');
    vi.useRealTimers();
  });
});

describe('helpers', () => {
  it('backoff doubles and is capped', () => {
    expect([0, 1, 2, 3, 10].map((n) => backoffMs(n, 500, 4000))).toEqual([500, 1000, 2000, 4000, 4000]);
  });
  it('resolves Location against the endpoint', () => {
    expect(resolveLocation('/whep/x', 'http://edge:8081/whep', 'http://ui/')).toBe('http://edge:8081/whep/x');
    expect(resolveLocation('/whep/x', '/whep', 'http://box:8081/inspect')).toBe('http://box:8081/whep/x');
    expect(resolveLocation(null, '/whep', 'http://box/')).toBeNull();
  });
});
