// useEdgeStatus follows the edge agent's status: the WebSocket pushes it on
// connect and on every change; when the socket drops, GET /api/v1/status
// tells a restarting agent from an unreachable one, and the socket is
// reopened with backoff.
import { useCallback, useEffect, useRef, useState } from 'react';
import { ApiError, unwrap, type EdgeClient, type EdgeSchemas } from '../../api/client';
import type { AgentReach, EdgeStatus } from './status';

/** wsURL is the agent's status WebSocket for an edge base URL ("" = same origin). */
export function wsURL(edgeBase: string, loc: { protocol: string; host: string } = window.location): string {
  if (!edgeBase) return `${loc.protocol === 'https:' ? 'wss:' : 'ws:'}//${loc.host}/api/v1/ws`;
  const u = new URL('/api/v1/ws', edgeBase);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  return u.toString();
}

export interface EdgeStatusState {
  status: EdgeStatus | null;
  agent: AgentReach;
  /** Increments on every status received: a cue to refresh what depends on it. */
  version: number;
  refresh: () => void;
}

export function useEdgeStatus(edge: EdgeClient, edgeBase: string): EdgeStatusState {
  const [status, setStatus] = useState<EdgeStatus | null>(null);
  const [agent, setAgent] = useState<AgentReach>('unknown');
  const [version, setVersion] = useState(0);
  const fetchRef = useRef<() => Promise<void>>(async () => {});

  useEffect(() => {
    let closed = false;
    let ws: WebSocket | null = null;
    let attempt = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const got = (s: EdgeStatus) => {
      setStatus(s);
      setAgent('reachable');
      setVersion((v) => v + 1);
    };
    const fetchStatus = async () => {
      try {
        got(await unwrap(edge.GET('/api/v1/status')));
      } catch (e) {
        if (closed) return;
        // Status 0: no answer at all. Anything else came from the agent.
        setAgent(e instanceof ApiError && e.status !== 0 ? 'reachable' : 'unreachable');
      }
    };
    fetchRef.current = fetchStatus;
    const open = () => {
      if (closed) return;
      let sock: WebSocket;
      try {
        sock = new WebSocket(wsURL(edgeBase));
      } catch {
        retry();
        return;
      }
      ws = sock;
      sock.onmessage = (ev: MessageEvent) => {
        try {
          const msg = JSON.parse(String(ev.data)) as EdgeSchemas['WSMessage'];
          if (msg.type === 'status' && msg.status) {
            attempt = 0;
            got(msg.status);
          }
        } catch {
          // ignore what we cannot read
        }
      };
      sock.onclose = () => {
        if (ws === sock) ws = null;
        if (closed) return;
        void fetchStatus();
        retry();
      };
    };
    const retry = () => {
      clearTimeout(timer);
      timer = setTimeout(open, Math.min(5000, 500 * 2 ** attempt++));
    };
    void fetchStatus();
    open();
    // A slow safety poll: a socket that is open but silent still leaves the strip current.
    const poll = setInterval(() => {
      if (!ws || ws.readyState !== WebSocket.OPEN) return;
      void fetchStatus();
    }, 30_000);
    return () => {
      closed = true;
      clearTimeout(timer);
      clearInterval(poll);
      ws?.close();
    };
  }, [edge, edgeBase]);

  const refresh = useCallback(() => void fetchRef.current(), []);
  return { status, agent, version, refresh };
}
