// App-wide services: runtime config, the edge agent client (inspector
// screens) and the execution WebSocket (cloud screens).
import { createContext, useContext, useEffect, useMemo, type ReactNode } from 'react';
import { currentBearer, newEdgeClient, type EdgeClient } from '../api/client';
import { ExecutionSocket } from '../api/ws';
import type { UIConfig } from './config';

interface Services {
  config: UIConfig;
  /** The edge agent's local API: same origin in edge mode, config.edgeUrl in cloud mode; null when none. */
  edge: EdgeClient | null;
  /** Base URL of the edge agent ("" = same origin), for WHEP and image URLs. */
  edgeBase: string | null;
  socket: ExecutionSocket;
}

const Ctx = createContext<Services | null>(null);

export function ServicesProvider({ config, children }: { config: UIConfig; children: ReactNode }) {
  const value = useMemo<Services>(() => {
    const edgeBase = config.mode === 'edge' ? config.edgeUrl : config.edgeUrl || null;
    return {
      config,
      edge: edgeBase === null ? null : newEdgeClient(edgeBase),
      edgeBase,
      socket: new ExecutionSocket({ token: currentBearer }),
    };
  }, [config]);
  useEffect(() => () => value.socket.close(), [value]);
  return <Ctx.Provider value={value}>{children}</Ctx.Provider>;
}

export function useServices(): Services {
  const c = useContext(Ctx);
  if (!c) throw new Error('useServices outside ServicesProvider');
  return c;
}
