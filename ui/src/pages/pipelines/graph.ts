// Pure graph logic of the pipeline canvas. It mirrors the server's
// validation (cloud/pipeline: Compile, matchInputs, findCycles, topoOrder)
// so the canvas refuses what the server would refuse, as the user drags,
// before anything is sent. The server stays the authority: its 422
// problems are shown on the nodes as well (see problems.ts).
import type { CloudSchemas } from '../../api/client';

export type Part = CloudSchemas['Part'];
export type Definition = CloudSchemas['PipelineDefinition'];
export type PortType = Part['inputs'][number];
export type Params = Record<string, unknown>;
export type PartMap = ReadonlyMap<string, Part>;

/** Bounds the server enforces (cloud/pipeline/pipeline.go). */
export const MAX_NODES = 64;
export const MAX_EDGES = 256;
export const MAX_NAME_BYTES = 200;
export const NODE_ID_PATTERN = /^[a-zA-Z0-9_-]{1,64}$/;
export const PORT_TYPES: readonly PortType[] = ['image', 'detections'];

export interface GraphNode {
  id: string;
  part: string;
  params: Params;
}

/** GraphEdge is a definition edge plus the port type the canvas draws it on. */
export interface GraphEdge {
  from: string;
  to: string;
  type: PortType;
}

/** Problem is one thing wrong, with a message code (i18n key under problems.) and its arguments. */
export interface Problem {
  node?: string;
  field?: string;
  code: string;
  args?: Record<string, string | number>;
  /** message: the server's text when the problem came from the server. */
  message?: string;
}

/** ParamsCheck validates one node's params; field names are parameter names. */
export type ParamsCheck = (part: Part, params: Params) => { field: string; code: string; args?: Record<string, string | number> }[];

// ---------------------------------------------------------------- handles

export const outHandle = (t: PortType): string => `out:${t}`;
export const inHandle = (t: PortType): string => `in:${t}`;

/** handleType returns the port type of a handle id ("in:image" → "image"). */
export function handleType(handle: string | null | undefined): PortType | null {
  if (!handle) return null;
  const t = handle.slice(handle.indexOf(':') + 1);
  return (PORT_TYPES as readonly string[]).includes(t) ? (t as PortType) : null;
}

export function uniqueTypes(ts: readonly string[] | undefined): PortType[] {
  const out: PortType[] = [];
  for (const t of ts ?? []) if ((PORT_TYPES as readonly string[]).includes(t) && !out.includes(t as PortType)) out.push(t as PortType);
  return out;
}

function commonTypes(a: readonly string[] | undefined, b: readonly string[] | undefined): PortType[] {
  const bs = uniqueTypes(b);
  return uniqueTypes(a).filter((t) => bs.includes(t));
}

// ------------------------------------------------------------ connections

export interface ConnectionAttempt {
  source: string | null;
  target: string | null;
  sourceHandle?: string | null;
  targetHandle?: string | null;
}

export type ConnectionVerdict = { ok: true; type: PortType } | { ok: false; code: string; args?: Record<string, string | number> };

/**
 * validateConnection decides whether an edge may be drawn from a source
 * handle to a target handle: same port type, no self-loop, no second edge
 * between the same two nodes (the server keys edges by from/to), the target
 * input not already fed, and no cycle.
 */
export function validateConnection(
  nodes: readonly Pick<GraphNode, 'id' | 'part'>[],
  edges: readonly GraphEdge[],
  parts: PartMap,
  c: ConnectionAttempt,
): ConnectionVerdict {
  if (!c.source || !c.target) return { ok: false, code: 'incomplete' };
  if (c.source === c.target) return { ok: false, code: 'selfLoop' };
  const src = nodes.find((n) => n.id === c.source);
  const dst = nodes.find((n) => n.id === c.target);
  if (!src || !dst) return { ok: false, code: 'incomplete' };
  const sp = parts.get(src.part);
  const dp = parts.get(dst.part);
  if (!sp || !dp) return { ok: false, code: 'unknownPart', args: { part: !sp ? src.part : dst.part } };
  const st = handleType(c.sourceHandle) ?? uniqueTypes(sp.outputs)[0] ?? null;
  const tt = handleType(c.targetHandle) ?? uniqueTypes(dp.inputs)[0] ?? null;
  if (!st || !tt || !sp.outputs.includes(st) || !dp.inputs.includes(tt)) return { ok: false, code: 'incomplete' };
  if (st !== tt) return { ok: false, code: 'typeMismatch', args: { from: st, to: tt } };
  if (edges.some((e) => e.from === c.source && e.to === c.target)) return { ok: false, code: 'duplicate' };
  if (edges.some((e) => e.to === c.target && e.type === tt)) return { ok: false, code: 'inputTaken', args: { type: tt } };
  const path = pathBetween(edges, c.target, c.source);
  if (path) return { ok: false, code: 'cycle', args: { path: [c.source, ...path].join(' → ') } };
  return { ok: true, type: st };
}

/** pathBetween returns the node ids of a path from → … → to following edges, or null. */
export function pathBetween(edges: readonly Pick<GraphEdge, 'from' | 'to'>[], from: string, to: string): string[] | null {
  const children = adjacency(edges);
  const prev = new Map<string, string>();
  const seen = new Set([from]);
  const queue = [from];
  while (queue.length) {
    const u = queue.shift() as string;
    if (u === to) {
      const path = [u];
      for (let p = prev.get(u); p !== undefined; p = prev.get(p)) path.unshift(p);
      return path;
    }
    for (const v of children.get(u) ?? []) {
      if (!seen.has(v)) {
        seen.add(v);
        prev.set(v, u);
        queue.push(v);
      }
    }
  }
  return null;
}

function adjacency(edges: readonly Pick<GraphEdge, 'from' | 'to'>[]): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const e of edges) {
    const l = m.get(e.from);
    if (l) l.push(e.to);
    else m.set(e.from, [e.to]);
  }
  return m;
}

// ----------------------------------------------------------------- cycles

/**
 * findCycles mirrors the server: a depth-first search in node order, one
 * cycle per back edge, each as the node ids along it.
 */
export function findCycles(nodeIds: readonly string[], edges: readonly Pick<GraphEdge, 'from' | 'to'>[]): string[][] {
  const index = new Map(nodeIds.map((id, i) => [id, i]));
  const children: number[][] = nodeIds.map(() => []);
  const seen = new Set<string>();
  for (const e of edges) {
    const f = index.get(e.from);
    const t = index.get(e.to);
    const k = `${e.from}\u0000${e.to}`;
    if (f === undefined || t === undefined || f === t || seen.has(k)) continue;
    seen.add(k);
    children[f]?.push(t);
  }
  const color = new Array<number>(nodeIds.length).fill(0);
  const stack: number[] = [];
  const cycles: string[][] = [];
  const visit = (u: number) => {
    color[u] = 1;
    stack.push(u);
    for (const v of children[u] ?? []) {
      if (color[v] === 0) visit(v);
      else if (color[v] === 1) cycles.push(stack.slice(stack.indexOf(v)).map((i) => nodeIds[i] as string));
    }
    stack.pop();
    color[u] = 2;
  };
  for (let i = 0; i < nodeIds.length; i++) if (color[i] === 0) visit(i);
  return cycles;
}

/** findCycle returns the first cycle (node ids, first not repeated) or null. */
export function findCycle(nodeIds: readonly string[], edges: readonly Pick<GraphEdge, 'from' | 'to'>[]): string[] | null {
  return findCycles(nodeIds, edges)[0] ?? null;
}

// ------------------------------------------------------------------ levels

/**
 * levels gives every node its topological depth (0 = roots, else one more
 * than its deepest parent), as the server's plan does. Nodes on a cycle have
 * no depth: they are placed after the deepest level, in node order.
 */
export function levels(nodeIds: readonly string[], edges: readonly Pick<GraphEdge, 'from' | 'to'>[]): Map<string, number> {
  const ids = new Set(nodeIds);
  const indeg = new Map(nodeIds.map((id) => [id, 0]));
  const children = new Map<string, string[]>();
  for (const e of edges) {
    if (!ids.has(e.from) || !ids.has(e.to) || e.from === e.to) continue;
    indeg.set(e.to, (indeg.get(e.to) ?? 0) + 1);
    children.set(e.from, [...(children.get(e.from) ?? []), e.to]);
  }
  const level = new Map<string, number>();
  let frontier = nodeIds.filter((id) => indeg.get(id) === 0);
  for (const id of frontier) level.set(id, 0);
  while (frontier.length) {
    const next: string[] = [];
    for (const u of frontier) {
      for (const c of children.get(u) ?? []) {
        level.set(c, Math.max(level.get(c) ?? 0, (level.get(u) ?? 0) + 1));
        const d = (indeg.get(c) ?? 0) - 1;
        indeg.set(c, d);
        if (d === 0) next.push(c);
      }
    }
    frontier = next;
  }
  let deepest = Math.max(-1, ...level.values());
  for (const id of nodeIds) if (!level.has(id) || (indeg.get(id) ?? 0) > 0) level.set(id, ++deepest);
  return level;
}

export interface XY {
  x: number;
  y: number;
}

export const LAYOUT = { columnWidth: 290, rowHeight: 150 } as const;

/**
 * autoLayout places nodes in columns by topological depth (definitions carry
 * no positions), each column centred vertically, nodes in definition order.
 */
export function autoLayout(nodeIds: readonly string[], edges: readonly Pick<GraphEdge, 'from' | 'to'>[]): Map<string, XY> {
  const lv = levels(nodeIds, edges);
  const columns = new Map<number, string[]>();
  for (const id of nodeIds) {
    const l = lv.get(id) ?? 0;
    columns.set(l, [...(columns.get(l) ?? []), id]);
  }
  const tallest = Math.max(0, ...[...columns.values()].map((c) => c.length));
  const out = new Map<string, XY>();
  for (const [l, col] of columns) {
    const offset = ((tallest - col.length) * LAYOUT.rowHeight) / 2;
    col.forEach((id, i) => out.set(id, { x: l * LAYOUT.columnWidth, y: offset + i * LAYOUT.rowHeight }));
  }
  return out;
}

// -------------------------------------------------------------- validation

function byteLength(s: string): number {
  return new TextEncoder().encode(s).length;
}

interface Matched {
  /** input type → source node id */
  from: Map<PortType, string>;
  problems: Problem[];
}

/**
 * matchInputs decides, like the server, which incoming edge delivers each
 * input type a node declares. Roots take the execution's input image.
 */
function matchInputs(node: GraphNode, part: Part, parents: string[], partOf: (id: string) => Part | undefined): Matched {
  const inputs = uniqueTypes(part.inputs);
  const from = new Map<PortType, string>();
  const problems: Problem[] = [];
  if (parents.length === 0) {
    if (!inputs.includes('image')) {
      problems.push({ node: node.id, code: 'rootNeedsImage', args: { part: part.id, accepts: inputs.join(', ') || '—' } });
      return { from, problems };
    }
    for (const t of inputs) if (t !== 'image') problems.push({ node: node.id, code: 'missingInput', args: { type: t } });
    return { from, problems };
  }
  const used = new Set<string>();
  let unmatched = false;
  for (const t of inputs) {
    let cands = parents.filter((p) => partOf(p)?.outputs.includes(t));
    if (cands.length > 1) {
      const single = cands.filter((c) => commonTypes(partOf(c)?.outputs, inputs).length === 1);
      if (single.length > 0) cands = single;
    }
    if (cands.length === 0) {
      problems.push({ node: node.id, code: 'missingInput', args: { type: t } });
      unmatched = true;
      continue;
    }
    if (cands.length > 1) {
      problems.push({ node: node.id, code: 'ambiguousInput', args: { type: t, from: cands.join(', ') } });
      unmatched = true;
      continue;
    }
    const c = cands[0] as string;
    used.add(c);
    from.set(t, c);
  }
  for (const p of parents) {
    if (!unmatched && !used.has(p) && commonTypes(partOf(p)?.outputs, inputs).length > 0) {
      problems.push({ node: node.id, code: 'edgeDeliversNothing', args: { from: p } });
    }
  }
  return { from, problems };
}

/**
 * validateDefinition mirrors the server's Compile: it returns every problem
 * (empty when the definition would be accepted). checkParams validates each
 * node's params against its part's schema (see params.ts).
 */
export function validateDefinition(def: Definition, parts: PartMap, checkParams?: ParamsCheck): Problem[] {
  const ps: Problem[] = [];
  const nodes = def.nodes ?? [];
  const edges = def.edges ?? [];
  if (byteLength(def.name ?? '') > MAX_NAME_BYTES) ps.push({ field: 'name', code: 'nameTooLong', args: { max: MAX_NAME_BYTES } });
  if (nodes.length === 0) return [...ps, { field: 'nodes', code: 'noNodes' }];
  if (nodes.length > MAX_NODES) return [...ps, { field: 'nodes', code: 'tooManyNodes', args: { n: nodes.length, max: MAX_NODES } }];
  if (edges.length > MAX_EDGES) return [...ps, { field: 'edges', code: 'tooManyEdges', args: { n: edges.length, max: MAX_EDGES } }];

  const byId = new Map<string, number>();
  const desc: (Part | undefined)[] = [];
  nodes.forEach((n, i) => {
    const field = `nodes[${i}]`;
    if (!NODE_ID_PATTERN.test(n.id ?? '')) ps.push({ node: n.id, field: `${field}.id`, code: 'badId' });
    else if (byId.has(n.id)) ps.push({ node: n.id, field: `${field}.id`, code: 'duplicateId' });
    else byId.set(n.id, i);
    if (!n.part) {
      ps.push({ node: n.id, field: `${field}.part`, code: 'partRequired' });
      return;
    }
    const p = parts.get(n.part);
    if (!p) {
      ps.push({ node: n.id, field: `${field}.part`, code: 'unknownPart', args: { part: n.part } });
      return;
    }
    desc[i] = p;
    for (const fe of checkParams?.(p, (n.params ?? {}) as Params) ?? []) {
      ps.push({ node: n.id, field: `${field}.params${fe.field ? `.${fe.field}` : ''}`, code: fe.code, args: fe.args });
    }
  });

  const parents: string[][] = nodes.map(() => []);
  const kept: { from: string; to: string }[] = [];
  const seen = new Map<string, number>();
  edges.forEach((e, i) => {
    const field = `edges[${i}]`;
    const f = byId.get(e.from);
    const t = byId.get(e.to);
    if (f === undefined) ps.push({ field: `${field}.from`, code: 'noSuchNode', args: { id: e.from } });
    if (t === undefined) ps.push({ field: `${field}.to`, code: 'noSuchNode', args: { id: e.to } });
    if (f === undefined || t === undefined) return;
    if (f === t) {
      ps.push({ node: e.from, field, code: 'selfLoop' });
      return;
    }
    const k = `${f}\u0000${t}`;
    const first = seen.get(k);
    if (first !== undefined) {
      ps.push({ node: e.to, field, code: 'duplicateEdge', args: { first } });
      return;
    }
    seen.set(k, i);
    kept.push({ from: e.from, to: e.to });
    parents[t]?.push(e.from);
    const s = desc[f];
    const d = desc[t];
    if (s && d && commonTypes(s.outputs, d.inputs).length === 0) {
      ps.push({ node: e.to, field, code: 'typeMismatchEdge', args: { from: e.from, outputs: s.outputs.join(', '), to: e.to, accepts: d.inputs.join(', ') } });
    }
  });

  const ids = nodes.map((n) => n.id);
  for (const cyc of findCycles(ids, kept)) {
    ps.push({ node: cyc[0], field: 'edges', code: 'cycle', args: { path: [...cyc, cyc[0]].join(' → ') } });
  }
  if (ps.length) return ps;

  const partOf = (id: string) => desc[byId.get(id) ?? -1];
  nodes.forEach((n, i) => {
    const p = desc[i] as Part;
    ps.push(...matchInputs({ id: n.id, part: n.part, params: {} }, p, parents[i] ?? [], partOf).problems);
  });
  return ps;
}

// --------------------------------------------------------------- transforms

export interface Graph {
  name: string;
  nodes: GraphNode[];
  edges: GraphEdge[];
}

/** toDefinition turns the canvas graph into the definition the API takes (one edge per node pair). */
export function toDefinition(g: Graph): Definition {
  const seen = new Set<string>();
  const edges: { from: string; to: string }[] = [];
  for (const e of g.edges) {
    const k = `${e.from}\u0000${e.to}`;
    if (seen.has(k)) continue;
    seen.add(k);
    edges.push({ from: e.from, to: e.to });
  }
  return {
    name: g.name,
    nodes: g.nodes.map((n) => (Object.keys(n.params).length ? { id: n.id, part: n.part, params: n.params as Record<string, never> } : { id: n.id, part: n.part })),
    edges,
  };
}

/**
 * fromDefinition turns a definition into the canvas graph. Definition edges
 * carry no port, so each edge is drawn on the type the server would have it
 * deliver (its input matching), else the first type both ends share.
 */
export function fromDefinition(def: Definition, parts: PartMap): Graph {
  const nodes: GraphNode[] = (def.nodes ?? []).map((n) => ({ id: n.id, part: n.part, params: { ...((n.params ?? {}) as Params) } }));
  const partOf = (id: string) => {
    const n = nodes.find((x) => x.id === id);
    return n ? parts.get(n.part) : undefined;
  };
  const parentsOf = new Map<string, string[]>();
  for (const e of def.edges ?? []) parentsOf.set(e.to, [...(parentsOf.get(e.to) ?? []), e.from]);
  const delivered = new Map<string, PortType>(); // "from\0to" → type
  for (const n of nodes) {
    const p = parts.get(n.part);
    if (!p) continue;
    for (const [t, from] of matchInputs(n, p, parentsOf.get(n.id) ?? [], partOf).from) {
      const k = `${from}\u0000${n.id}`;
      if (!delivered.has(k)) delivered.set(k, t);
    }
  }
  const edges: GraphEdge[] = (def.edges ?? []).map((e) => {
    const t = delivered.get(`${e.from}\u0000${e.to}`) ?? commonTypes(partOf(e.from)?.outputs, partOf(e.to)?.inputs)[0] ?? uniqueTypes(partOf(e.from)?.outputs)[0] ?? 'image';
    return { from: e.from, to: e.to, type: t };
  });
  return { name: def.name ?? '', nodes, edges };
}

/** nextNodeId returns base, or base_2, base_3, … — the first id not taken. */
export function nextNodeId(base: string, taken: ReadonlySet<string> | readonly string[]): string {
  const has = (id: string) => (Array.isArray(taken) ? (taken as readonly string[]).includes(id) : (taken as ReadonlySet<string>).has(id));
  const clean = base.replace(/[^a-zA-Z0-9_-]/g, '_').slice(0, 58) || 'node';
  if (!has(clean)) return clean;
  for (let i = 2; ; i++) if (!has(`${clean}_${i}`)) return `${clean}_${i}`;
}

/** renameNodeProblem checks a new id for a node: valid characters and unique. */
export function checkNodeId(id: string, others: readonly string[]): string | null {
  if (!NODE_ID_PATTERN.test(id)) return 'badId';
  if (others.includes(id)) return 'duplicateId';
  return null;
}

/** sinks are nodes without outgoing edges, in node order. */
export function sinks(g: Pick<Graph, 'nodes' | 'edges'>): string[] {
  const from = new Set(g.edges.map((e) => e.from));
  return g.nodes.filter((n) => !from.has(n.id)).map((n) => n.id);
}
