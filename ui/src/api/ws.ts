// ExecutionSocket follows executions over the cloud API's WebSocket
// (/api/v1/ws). On subscribe the server sends the execution's current state,
// then every progress event; after a dropped connection the socket
// reconnects with backoff and subscribes again, so the state message brings
// the view up to date with whatever it missed.
import type { CloudSchemas } from './client';

export type WSServerMessage = CloudSchemas['WSServerMessage'];
export type Execution = CloudSchemas['Execution'];
export type ProgressMessage = Extract<WSServerMessage, { type: 'progress' }>;
export type StateMessage = Extract<WSServerMessage, { type: 'state' }>;

export type ExecutionListener = (msg: ProgressMessage | StateMessage) => void;

export interface SocketOptions {
  /** URL of the WebSocket endpoint; default same origin /api/v1/ws. */
  url?: string;
  token: () => string | null;
  /** WebSocket constructor (tests). */
  WebSocketImpl?: typeof WebSocket;
  onStatus?: (connected: boolean) => void;
}

export class ExecutionSocket {
  private ws: WebSocket | null = null;
  private listeners = new Map<string, Set<ExecutionListener>>();
  private closed = false;
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly opts: SocketOptions;

  constructor(opts: SocketOptions) {
    this.opts = opts;
  }

  /** subscribe calls fn with the state and each progress event of executionId. */
  subscribe(executionId: string, fn: ExecutionListener): () => void {
    let set = this.listeners.get(executionId);
    if (!set) {
      set = new Set();
      this.listeners.set(executionId, set);
      this.send({ type: 'subscribe', execution_id: executionId });
    }
    set.add(fn);
    this.ensureOpen();
    return () => {
      const s = this.listeners.get(executionId);
      if (!s) return;
      s.delete(fn);
      if (s.size === 0) {
        this.listeners.delete(executionId);
        this.send({ type: 'unsubscribe', execution_id: executionId });
      }
    };
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.ws?.close();
    this.ws = null;
  }

  private url(): string {
    if (this.opts.url) return this.opts.url;
    const proto = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
    return `${proto}//${window.location.host}/api/v1/ws`;
  }

  private ensureOpen(): void {
    if (this.ws || this.closed) return;
    const token = this.opts.token();
    if (!token) return;
    const Impl = this.opts.WebSocketImpl ?? WebSocket;
    const ws = new Impl(`${this.url()}?token=${encodeURIComponent(token)}`);
    this.ws = ws;
    ws.onopen = () => {
      this.attempt = 0;
      this.opts.onStatus?.(true);
      for (const id of this.listeners.keys()) ws.send(JSON.stringify({ type: 'subscribe', execution_id: id }));
    };
    ws.onmessage = (ev: MessageEvent) => {
      let msg: WSServerMessage;
      try {
        msg = JSON.parse(String(ev.data)) as WSServerMessage;
      } catch {
        return;
      }
      if (msg.type !== 'progress' && msg.type !== 'state') return;
      const id = msg.execution_id;
      if (!id) return;
      for (const fn of this.listeners.get(id) ?? []) fn(msg);
    };
    ws.onclose = () => {
      this.ws = null;
      this.opts.onStatus?.(false);
      if (this.closed || this.listeners.size === 0) return;
      const delay = Math.min(10_000, 250 * 2 ** this.attempt++);
      this.timer = setTimeout(() => this.ensureOpen(), delay);
    };
  }

  private send(msg: object): void {
    if (this.ws && this.ws.readyState === 1) this.ws.send(JSON.stringify(msg));
  }
}
