// What the desktop app (tauri/) tells the inspector screens besides
// window.__IFC_CONFIG__: the cloud address for enrollment and the state of
// the edge agent it supervises, pushed again on every change as the
// 'ifc-desktop-agent' event (tauri/src-tauri/src/webview.rs). In a browser
// there is no such object and nothing here shows.
import { useEffect, useRef, useState } from 'react';

/** AgentState mirrors supervisor::AgentState in the Rust core. */
export interface DesktopAgent {
  phase: 'starting' | 'running' | 'failed' | 'stopped' | 'external';
  pid: number | null;
  reason: string;
  output_tail: string[];
  restarts: number;
  next_attempt_ms: number | null;
  binary: string;
  agent_config: string;
  http_addr: string;
}

export interface DesktopInfo {
  app_version: string;
  cloud_addr: string;
  agent: DesktopAgent | null;
}

declare global {
  interface Window {
    __IFC_DESKTOP__?: DesktopInfo;
  }
}

export const AGENT_EVENT = 'ifc-desktop-agent';

/** desktopInfo is the desktop app's object, or null in a browser. */
export function desktopInfo(): DesktopInfo | null {
  return typeof window !== 'undefined' && window.__IFC_DESKTOP__ ? window.__IFC_DESKTOP__ : null;
}

/** useDesktopAgent follows the supervised agent's state (null outside the desktop app). */
export function useDesktopAgent(): DesktopAgent | null {
  const [agent, setAgent] = useState<DesktopAgent | null>(() => desktopInfo()?.agent ?? null);
  useEffect(() => {
    const on = (e: Event) => setAgent((e as CustomEvent<DesktopAgent>).detail ?? null);
    window.addEventListener(AGENT_EVENT, on);
    setAgent(desktopInfo()?.agent ?? null); // a push may have come before this effect
    return () => window.removeEventListener(AGENT_EVENT, on);
  }, []);
  return agent;
}

/**
 * useOnAgentReady calls fn each time the supervised agent becomes ready, so
 * a screen loaded while the agent was still starting asks for its status at
 * once instead of waiting out its reconnect backoff (desktop app only).
 */
export function useOnAgentReady(fn: () => void): void {
  const ref = useRef(fn);
  ref.current = fn;
  useEffect(() => {
    const on = (e: Event) => {
      if ((e as CustomEvent<DesktopAgent | null>).detail?.phase === 'running') ref.current();
    };
    window.addEventListener(AGENT_EVENT, on);
    return () => window.removeEventListener(AGENT_EVENT, on);
  }, []);
}
