// Per-node decorations (live run state, problems) kept outside React Flow's
// node array: a status update re-renders only the node it is about, and
// never rebuilds the nodes array (no re-render storm while a run streams
// in or while a node is dragged).
import { useSyncExternalStore } from 'react';
import type { CloudSchemas } from '../../api/client';
import type { Problem } from './graph';

export type NodeStatus = CloudSchemas['NodeStatus'];

export interface Decoration {
  run?: NodeStatus;
  problems?: Problem[];
  /** root: nothing feeds the node, so it takes the execution's input image. */
  root?: boolean;
}

const EMPTY: Decoration = {};

export class DecorationStore {
  private byId = new Map<string, Decoration>();
  private listeners = new Map<string, Set<() => void>>();

  get(id: string): Decoration {
    return this.byId.get(id) ?? EMPTY;
  }

  /** update merges patch into a node's decoration and notifies that node only. */
  update(id: string, patch: Partial<Decoration>): void {
    this.byId.set(id, { ...this.get(id), ...patch });
    for (const fn of this.listeners.get(id) ?? []) fn();
  }

  /** setAll replaces one field for every node (others keep theirs), notifying only nodes that changed. */
  setAll<K extends keyof Decoration>(key: K, values: ReadonlyMap<string, Decoration[K]>): void {
    const ids = new Set([...this.byId.keys(), ...values.keys()]);
    for (const id of ids) {
      const cur = this.get(id);
      const next = values.get(id);
      if (cur[key] === next || (cur[key] === undefined && next === undefined)) continue;
      this.update(id, { [key]: next } as Partial<Decoration>);
    }
  }

  subscribe(id: string, fn: () => void): () => void {
    let s = this.listeners.get(id);
    if (!s) this.listeners.set(id, (s = new Set()));
    s.add(fn);
    return () => s.delete(fn);
  }
}

export function useDecoration(store: DecorationStore, id: string): Decoration {
  return useSyncExternalStore(
    (fn) => store.subscribe(id, fn),
    () => store.get(id),
  );
}
