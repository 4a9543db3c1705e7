// Differences between two pipeline versions: what a reviewer needs to see
// before trusting a new version.
import type { Definition } from './graph';

export interface ParamChange {
  key: string;
  before: unknown;
  after: unknown;
}

export interface NodeChange {
  id: string;
  partBefore?: string;
  partAfter?: string;
  params: ParamChange[];
}

export interface DefinitionDiff {
  nameBefore?: string;
  nameAfter?: string;
  nodesAdded: { id: string; part: string }[];
  nodesRemoved: { id: string; part: string }[];
  nodesChanged: NodeChange[];
  edgesAdded: { from: string; to: string }[];
  edgesRemoved: { from: string; to: string }[];
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) out[k] = canonical((v as Record<string, unknown>)[k]);
    return out;
  }
  return v;
}

/** diffDefinitions compares a (older) with b (newer). Nodes are matched by id, edges by from/to. */
export function diffDefinitions(a: Definition, b: Definition): DefinitionDiff {
  const an = new Map((a.nodes ?? []).map((n) => [n.id, n]));
  const bn = new Map((b.nodes ?? []).map((n) => [n.id, n]));
  const d: DefinitionDiff = { nodesAdded: [], nodesRemoved: [], nodesChanged: [], edgesAdded: [], edgesRemoved: [] };
  if ((a.name ?? '') !== (b.name ?? '')) {
    d.nameBefore = a.name ?? '';
    d.nameAfter = b.name ?? '';
  }
  for (const [id, n] of bn) if (!an.has(id)) d.nodesAdded.push({ id, part: n.part });
  for (const [id, n] of an) if (!bn.has(id)) d.nodesRemoved.push({ id, part: n.part });
  for (const [id, before] of an) {
    const after = bn.get(id);
    if (!after) continue;
    const pb = (before.params ?? {}) as Record<string, unknown>;
    const pa = (after.params ?? {}) as Record<string, unknown>;
    const keys = [...new Set([...Object.keys(pb), ...Object.keys(pa)])].sort();
    const params = keys.filter((k) => !same(pb[k], pa[k])).map((k) => ({ key: k, before: pb[k], after: pa[k] }));
    const partChanged = before.part !== after.part;
    if (params.length || partChanged) {
      d.nodesChanged.push(partChanged ? { id, partBefore: before.part, partAfter: after.part, params } : { id, params });
    }
  }
  const key = (e: { from: string; to: string }) => `${e.from}\u0000${e.to}`;
  const ae = new Set((a.edges ?? []).map(key));
  const be = new Set((b.edges ?? []).map(key));
  for (const e of b.edges ?? []) if (!ae.has(key(e))) d.edgesAdded.push({ from: e.from, to: e.to });
  for (const e of a.edges ?? []) if (!be.has(key(e))) d.edgesRemoved.push({ from: e.from, to: e.to });
  return d;
}

/** isEmptyDiff reports whether two versions define the same pipeline. */
export function isEmptyDiff(d: DefinitionDiff): boolean {
  return d.nameBefore === undefined && !d.nodesAdded.length && !d.nodesRemoved.length && !d.nodesChanged.length && !d.edgesAdded.length && !d.edgesRemoved.length;
}
