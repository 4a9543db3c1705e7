// Runtime configuration: the Go host serves /ui-config.json (ui/embed.go),
// the desktop app injects window.__IFC_CONFIG__ before the bundle runs.
export interface UIConfig {
  /** cloud: served by the cloud API; edge: served by (or talking to) an edge agent. */
  mode: 'cloud' | 'edge';
  /** Base URL of the edge agent's local API; "" = same origin. */
  edgeUrl: string;
}

declare global {
  interface Window {
    __IFC_CONFIG__?: { mode?: string; edge_url?: string };
  }
}

export function parseConfig(raw: unknown): UIConfig {
  const o = (typeof raw === 'object' && raw !== null ? raw : {}) as { mode?: unknown; edge_url?: unknown };
  const mode = o.mode === 'edge' ? 'edge' : 'cloud';
  const edgeUrl = typeof o.edge_url === 'string' ? o.edge_url.replace(/\/$/, '') : '';
  return { mode, edgeUrl };
}

export async function loadConfig(): Promise<UIConfig> {
  if (window.__IFC_CONFIG__) return parseConfig(window.__IFC_CONFIG__);
  try {
    const res = await fetch('/ui-config.json', { cache: 'no-store' });
    if (res.ok) return parseConfig(await res.json());
  } catch {
    // Served without a Go host (vite dev without proxy): cloud defaults.
  }
  return { mode: 'cloud', edgeUrl: '' };
}
