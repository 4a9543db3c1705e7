// YAML import and export of definitions. Import is strict like the server's
// parser (cloud/pipeline/parse.go): one document, no aliases or merge keys,
// no unknown fields, ids as strings. It never touches the canvas by itself:
// it returns a definition or the syntax problems.
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseAllDocuments, stringify, visit, type Node as YNode } from 'yaml';
import type { Definition } from './graph';

export interface SyntaxProblem {
  line?: number;
  path?: string;
  code: string;
  args?: Record<string, string | number>;
}

export type ImportResult = { ok: true; definition: Definition } | { ok: false; problems: SyntaxProblem[] };

export const MAX_DEFINITION_BYTES = 1 << 20;

const FIELDS = {
  root: ['name', 'nodes', 'edges'],
  node: ['id', 'part', 'params'],
  edge: ['from', 'to'],
} as const;

/** parseDefinitionYAML parses a YAML (or JSON, which is YAML) definition. */
export function parseDefinitionYAML(text: string): ImportResult {
  if (new TextEncoder().encode(text).length > MAX_DEFINITION_BYTES) return fail({ code: 'tooLarge', args: { max: MAX_DEFINITION_BYTES } });
  const lc = new LineCounter();
  const docs = parseAllDocuments(text.replace(/^\uFEFF/, ''), { lineCounter: lc, uniqueKeys: true, merge: false });
  if (!Array.isArray(docs)) return fail({ code: 'empty' });
  if (docs.length === 0) return fail({ code: 'empty' });
  if (docs.length > 1) return fail({ code: 'multipleDocuments', line: lineOf(lc, docs[1]?.range?.[0]) });
  const doc = docs[0]!;
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    return fail({ code: 'yaml', line: lc.linePos(e.pos[0]).line, args: { message: e.message.split('\n')[0] ?? '' } });
  }
  let alias: SyntaxProblem | null = null;
  visit(doc, {
    Alias(_, n) {
      alias = { code: 'alias', line: lineOf(lc, n.range?.[0]) };
      return visit.BREAK;
    },
    Pair(_, p) {
      if (isScalar(p.key) && p.key.value === '<<') {
        alias = { code: 'alias', line: lineOf(lc, p.key.range?.[0]) };
        return visit.BREAK;
      }
      return undefined;
    },
  });
  if (alias) return fail(alias);
  const root = doc.contents;
  if (!root || (isScalar(root) && root.value === null)) return fail({ code: 'empty' });
  if (!isMap(root)) return fail({ code: 'expectedMapping', line: lineOf(lc, root.range?.[0]), path: '' });
  const problems: SyntaxProblem[] = [];
  checkFields(root, FIELDS.root, '', lc, problems);
  const nodes = root.get('nodes', true) as YNode | undefined;
  const edges = root.get('edges', true) as YNode | undefined;
  checkList(nodes, 'nodes', FIELDS.node, lc, problems);
  checkList(edges, 'edges', FIELDS.edge, lc, problems);
  if (problems.length) return { ok: false, problems };
  const js = doc.toJS({ maxAliasCount: 0 }) as Record<string, unknown>;
  const def: Definition = {
    name: js.name === undefined || js.name === null ? '' : String(js.name),
    nodes: ((js.nodes as Record<string, unknown>[] | null) ?? []).map((n) => {
      const out: Definition['nodes'][number] = { id: str(n.id), part: str(n.part) };
      if (n.params !== undefined && n.params !== null) out.params = n.params as Record<string, never>;
      return out;
    }),
    edges: ((js.edges as Record<string, unknown>[] | null) ?? []).map((e) => ({ from: str(e.from), to: str(e.to) })),
  };
  return { ok: true, definition: def };
}

function str(v: unknown): string {
  return v === undefined || v === null ? '' : String(v);
}

function fail(p: SyntaxProblem): ImportResult {
  return { ok: false, problems: [p] };
}

function lineOf(lc: LineCounter, offset: number | undefined): number | undefined {
  return offset === undefined ? undefined : lc.linePos(offset).line;
}

function checkFields(m: YNode, allowed: readonly string[], path: string, lc: LineCounter, out: SyntaxProblem[]): void {
  if (!isMap(m)) return;
  for (const p of m.items) {
    const k = isScalar(p.key) ? String(p.key.value) : null;
    if (k === null || !allowed.includes(k)) {
      out.push({ code: 'unknownField', line: lineOf(lc, (p.key as YNode | null)?.range?.[0]), path, args: { name: k ?? '?' } });
    } else if (k !== 'params' && k !== 'nodes' && k !== 'edges' && p.value && !isScalar(p.value)) {
      out.push({ code: 'expectedString', line: lineOf(lc, (p.value as YNode).range?.[0]), path: path ? `${path}.${k}` : k });
    } else if (k === 'params' && p.value && !(isScalar(p.value) && p.value.value === null) && !isMap(p.value)) {
      out.push({ code: 'expectedMapping', line: lineOf(lc, (p.value as YNode).range?.[0]), path: `${path}.params` });
    }
  }
}

function checkList(n: YNode | undefined, name: string, allowed: readonly string[], lc: LineCounter, out: SyntaxProblem[]): void {
  if (n === undefined || (isScalar(n) && n.value === null)) return;
  if (isAlias(n) || !isSeq(n)) {
    out.push({ code: 'expectedList', line: lineOf(lc, n.range?.[0]), path: name });
    return;
  }
  n.items.forEach((it, i) => {
    const path = `${name}[${i}]`;
    if (!isMap(it)) out.push({ code: 'expectedMapping', line: lineOf(lc, (it as YNode | null)?.range?.[0]), path });
    else checkFields(it, allowed, path, lc, out);
  });
}

/** definitionToYAML writes a definition in the server's field order. */
export function definitionToYAML(def: Definition): string {
  const doc: Record<string, unknown> = { name: def.name ?? '' };
  doc.nodes = def.nodes.map((n) => (n.params && Object.keys(n.params).length ? { id: n.id, part: n.part, params: n.params } : { id: n.id, part: n.part }));
  if (def.edges?.length) doc.edges = def.edges.map((e) => ({ from: e.from, to: e.to }));
  return stringify(doc, { indent: 2 });
}
