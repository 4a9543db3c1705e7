// What every canvas node needs without being passed it through node data:
// the parts catalogue and the decorations store. Both are stable for the
// editor's life, so reading them never re-renders a node.
import { createContext, useContext } from 'react';
import type { PartMap } from './graph';
import { DecorationStore } from './store';

export interface EditorCtx {
  parts: PartMap;
  decorations: DecorationStore;
}

export const EditorContext = createContext<EditorCtx>({ parts: new Map(), decorations: new DecorationStore() });

export function useEditor(): EditorCtx {
  return useContext(EditorContext);
}

/** fileURL is where an <img> gets a stored file (AuthedImage adds the bearer). */
export function fileURL(outputs: { file_id?: string; download_url?: string } | undefined): string | null {
  if (!outputs) return null;
  if (outputs.download_url) return outputs.download_url;
  return outputs.file_id ? `/api/v1/files/${encodeURIComponent(outputs.file_id)}/content` : null;
}
