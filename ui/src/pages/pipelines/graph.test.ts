import { describe, expect, it } from 'vitest';
import {
  autoLayout, checkNodeId, findCycle, findCycles, fromDefinition, handleType, inHandle, levels, nextNodeId, outHandle,
  pathBetween, sinks, toDefinition, validateConnection, validateDefinition, type Definition, type GraphEdge,
} from './graph';
import { validateParams } from './params';
import { partMap } from './testParts';

const nodes = [
  { id: 'resize', part: 'resize' },
  { id: 'blur', part: 'gaussian_blur' },
  { id: 'detect', part: 'detect' },
  { id: 'count', part: 'count' },
  { id: 'judge', part: 'judge' },
];
const chain: GraphEdge[] = [
  { from: 'resize', to: 'blur', type: 'image' },
  { from: 'blur', to: 'detect', type: 'image' },
];
const conn = (source: string, target: string, s = 'image', t = 'image') => ({ source, target, sourceHandle: `out:${s}`, targetHandle: `in:${t}` });

describe('handles', () => {
  it('round-trips port types through handle ids', () => {
    expect(handleType(outHandle('detections'))).toBe('detections');
    expect(handleType(inHandle('image'))).toBe('image');
    expect(handleType('in:video')).toBeNull();
    expect(handleType(null)).toBeNull();
  });
});

describe('validateConnection', () => {
  it('accepts a connection of matching types', () => {
    expect(validateConnection(nodes, chain, partMap, conn('detect', 'count', 'detections', 'detections'))).toEqual({ ok: true, type: 'detections' });
  });
  it('refuses a type mismatch', () => {
    const v = validateConnection(nodes, chain, partMap, conn('detect', 'count', 'image', 'detections'));
    expect(v).toEqual({ ok: false, code: 'typeMismatch', args: { from: 'image', to: 'detections' } });
  });
  it('refuses a handle the part does not have', () => {
    expect(validateConnection(nodes, chain, partMap, conn('blur', 'count', 'detections', 'detections'))).toMatchObject({ ok: false, code: 'incomplete' });
  });
  it('refuses a self-loop', () => {
    expect(validateConnection(nodes, [], partMap, conn('blur', 'blur'))).toMatchObject({ ok: false, code: 'selfLoop' });
  });
  it('refuses a second edge between the same nodes, whatever the port', () => {
    const edges: GraphEdge[] = [{ from: 'detect', to: 'judge', type: 'image' }];
    expect(validateConnection(nodes, edges, partMap, conn('detect', 'judge', 'detections', 'detections'))).toMatchObject({ ok: false, code: 'duplicate' });
  });
  it('refuses feeding an input that is already fed', () => {
    expect(validateConnection(nodes, chain, partMap, conn('resize', 'detect'))).toMatchObject({ ok: false, code: 'inputTaken' });
  });
  it('refuses an edge that closes a cycle and names it', () => {
    const v = validateConnection([...nodes, { id: 'r2', part: 'resize' }], [...chain, { from: 'detect', to: 'r2', type: 'image' }], partMap, conn('r2', 'resize'));
    expect(v).toEqual({ ok: false, code: 'cycle', args: { path: 'r2 → resize → blur → detect → r2' } });
  });
  it('refuses when an end is missing or unknown', () => {
    expect(validateConnection(nodes, [], partMap, { source: null, target: 'blur' })).toMatchObject({ ok: false, code: 'incomplete' });
    expect(validateConnection([...nodes, { id: 'x', part: 'nope' }], [], partMap, conn('x', 'blur'))).toMatchObject({ ok: false, code: 'unknownPart' });
  });
});

describe('cycles', () => {
  it('finds the cycle the server would name, one per back edge', () => {
    const ids = ['a', 'b', 'c', 'd'];
    const edges = [{ from: 'a', to: 'b' }, { from: 'b', to: 'c' }, { from: 'c', to: 'a' }, { from: 'c', to: 'd' }, { from: 'd', to: 'c' }];
    expect(findCycles(ids, edges)).toEqual([['a', 'b', 'c'], ['c', 'd']]);
    expect(findCycle(ids, edges)).toEqual(['a', 'b', 'c']);
  });
  it('finds none in a DAG and ignores self-loops and duplicates', () => {
    expect(findCycle(['a', 'b', 'c'], [{ from: 'a', to: 'b' }, { from: 'a', to: 'c' }, { from: 'b', to: 'c' }, { from: 'b', to: 'c' }, { from: 'a', to: 'a' }])).toBeNull();
  });
  it('finds a path between nodes', () => {
    expect(pathBetween(chain, 'resize', 'detect')).toEqual(['resize', 'blur', 'detect']);
    expect(pathBetween(chain, 'detect', 'resize')).toBeNull();
  });
});

describe('levels and layout', () => {
  it('gives each node one more than its deepest parent', () => {
    const edges = [{ from: 'a', to: 'b' }, { from: 'b', to: 'c' }, { from: 'a', to: 'c' }, { from: 'x', to: 'c' }];
    expect(Object.fromEntries(levels(['a', 'b', 'c', 'x'], edges))).toEqual({ a: 0, b: 1, c: 2, x: 0 });
  });
  it('places nodes on a cycle after the deepest level', () => {
    const lv = levels(['a', 'b', 'c'], [{ from: 'b', to: 'c' }, { from: 'c', to: 'b' }]);
    expect(lv.get('a')).toBe(0);
    expect([lv.get('b'), lv.get('c')].sort()).toEqual([1, 2]);
  });
  it('lays out columns by depth, centred, without overlaps', () => {
    const pos = autoLayout(['a', 'b', 'c', 'd'], [{ from: 'a', to: 'b' }, { from: 'a', to: 'c' }, { from: 'b', to: 'd' }, { from: 'c', to: 'd' }]);
    expect(pos.get('a')!.x).toBe(0);
    expect(pos.get('b')!.x).toBe(pos.get('c')!.x);
    expect(pos.get('b')!.y).not.toBe(pos.get('c')!.y);
    expect(pos.get('d')!.x).toBeGreaterThan(pos.get('b')!.x);
    expect(pos.get('a')!.y).toBe((pos.get('b')!.y + pos.get('c')!.y) / 2);
  });
  it('lays out 50 nodes in distinct places', () => {
    const ids = Array.from({ length: 50 }, (_, i) => `n${i}`);
    const edges = ids.slice(1).map((id, i) => ({ from: `n${Math.floor(i / 2)}`, to: id }));
    const pos = autoLayout(ids, edges);
    expect(new Set([...pos.values()].map((p) => `${p.x},${p.y}`)).size).toBe(50);
  });
});

const standard: Definition = {
  name: 'standard',
  nodes: [
    { id: 'resize', part: 'resize', params: { width: 640 } as unknown as Record<string, never> },
    { id: 'blur', part: 'gaussian_blur' },
    { id: 'detect', part: 'detect' },
  ],
  edges: [{ from: 'resize', to: 'blur' }, { from: 'blur', to: 'detect' }],
};
const codes = (d: Definition) => validateDefinition(d, partMap, validateParams).map((p) => p.code);

describe('validateDefinition (mirrors cloud/pipeline Compile)', () => {
  it('accepts the standard pipeline', () => {
    expect(validateDefinition(standard, partMap, validateParams)).toEqual([]);
  });
  it('refuses an empty pipeline and too many nodes', () => {
    expect(codes({ name: 'x', nodes: [] })).toEqual(['noNodes']);
    expect(codes({ name: 'x', nodes: Array.from({ length: 65 }, (_, i) => ({ id: `n${i}`, part: 'resize' })) })).toEqual(['tooManyNodes']);
  });
  it('refuses a long name in bytes', () => {
    expect(codes({ ...standard, name: 'あ'.repeat(67) })).toEqual(['nameTooLong']);
  });
  it('reports bad and duplicate ids, missing and unknown parts, all at once', () => {
    const d: Definition = { name: 'x', nodes: [{ id: 'a b', part: 'resize' }, { id: 'b', part: 'resize' }, { id: 'b', part: '' }, { id: 'c', part: 'warp' }] };
    expect(codes(d)).toEqual(['badId', 'duplicateId', 'partRequired', 'unknownPart']);
  });
  it('reports params problems with their field path', () => {
    const d: Definition = { name: 'x', nodes: [{ id: 'r', part: 'resize', params: { width: 0, color: 'red' } as unknown as Record<string, never> }] };
    const ps = validateDefinition(d, partMap, validateParams);
    expect(ps.map((p) => [p.node, p.field, p.code])).toEqual([
      ['r', 'nodes[0].params.color', 'unknownParam'],
      ['r', 'nodes[0].params.width', 'minimum'],
    ].sort((a, b) => (a[1]! < b[1]! ? -1 : 1)));
  });
  it('reports edges to missing nodes, self-loops, duplicates and type mismatches', () => {
    const d: Definition = {
      name: 'x',
      nodes: [{ id: 'r', part: 'resize' }, { id: 'c', part: 'count' }],
      edges: [{ from: 'r', to: 'zz' }, { from: 'r', to: 'r' }, { from: 'r', to: 'c' }, { from: 'r', to: 'c' }],
    };
    expect(codes(d)).toEqual(['noSuchNode', 'selfLoop', 'typeMismatchEdge', 'duplicateEdge']);
  });
  it('refuses a cycle and names its nodes', () => {
    const d: Definition = { ...standard, edges: [...standard.edges!, { from: 'detect', to: 'resize' }] };
    const ps = validateDefinition(d, partMap, validateParams);
    expect(ps).toEqual([{ node: 'resize', field: 'edges', code: 'cycle', args: { path: 'resize → blur → detect → resize' } }]);
  });
  it('requires roots to accept the input image', () => {
    expect(codes({ name: 'x', nodes: [{ id: 'c', part: 'count' }] })).toEqual(['rootNeedsImage']);
    expect(codes({ name: 'x', nodes: [{ id: 'j', part: 'judge' }] })).toEqual(['missingInput']);
  });
  it('matches inputs like the server: a detector beside a filter delivers the detections', () => {
    const d: Definition = {
      name: 'x',
      nodes: [{ id: 'r', part: 'resize' }, { id: 'b', part: 'gaussian_blur' }, { id: 'd', part: 'detect' }, { id: 'j', part: 'judge' }],
      edges: [{ from: 'r', to: 'b' }, { from: 'r', to: 'd' }, { from: 'd', to: 'j' }, { from: 'b', to: 'j' }],
    };
    expect(codes(d)).toEqual([]);
    const g = fromDefinition(d, partMap);
    expect(g.edges.find((e) => e.from === 'd' && e.to === 'j')?.type).toBe('detections');
    expect(g.edges.find((e) => e.from === 'b' && e.to === 'j')?.type).toBe('image');
  });
  it('refuses an ambiguous input and an edge that delivers nothing', () => {
    const ambiguous: Definition = {
      name: 'x',
      nodes: [{ id: 'a', part: 'resize' }, { id: 'b', part: 'resize' }, { id: 'c', part: 'gaussian_blur' }],
      edges: [{ from: 'a', to: 'c' }, { from: 'b', to: 'c' }],
    };
    expect(codes(ambiguous)).toEqual(['ambiguousInput']);
    const nothing: Definition = {
      name: 'x',
      nodes: [{ id: 'r', part: 'resize' }, { id: 'd', part: 'detect' }, { id: 'd2', part: 'detect' }, { id: 'j', part: 'judge' }],
      edges: [{ from: 'r', to: 'd' }, { from: 'r', to: 'd2' }, { from: 'd', to: 'j' }, { from: 'd2', to: 'j' }, { from: 'r', to: 'j' }],
    };
    // image: r wins (single); detections: d and d2 both → ambiguous.
    expect(codes(nothing)).toEqual(['ambiguousInput']);
    const extra: Definition = {
      name: 'x',
      nodes: [{ id: 'r', part: 'resize' }, { id: 'd', part: 'detect' }, { id: 'c', part: 'count' }, { id: 'j', part: 'judge' }],
      edges: [{ from: 'r', to: 'd' }, { from: 'd', to: 'c' }, { from: 'd', to: 'j' }, { from: 'r', to: 'j' }, { from: 'c', to: 'j' }],
    };
    // image ← r (single), detections ← c (single: count only outputs detections), so d delivers nothing.
    expect(codes(extra)).toEqual(['edgeDeliversNothing']);
  });
  it('needs a delivered input for every declared type', () => {
    const d: Definition = { name: 'x', nodes: [{ id: 'r', part: 'resize' }, { id: 'j', part: 'judge' }], edges: [{ from: 'r', to: 'j' }] };
    expect(validateDefinition(d, partMap)).toEqual([{ node: 'j', code: 'missingInput', args: { type: 'detections' } }]);
  });
});

describe('definition transforms', () => {
  it('round-trips a definition through the canvas graph', () => {
    const g = fromDefinition(standard, partMap);
    expect(g.edges.every((e) => e.type === 'image')).toBe(true);
    expect(toDefinition(g)).toEqual({ ...standard, nodes: [standard.nodes[0], { id: 'blur', part: 'gaussian_blur' }, { id: 'detect', part: 'detect' }] });
  });
  it('writes one definition edge per node pair', () => {
    const def = toDefinition({ name: 'x', nodes: [{ id: 'a', part: 'detect', params: {} }, { id: 'b', part: 'judge', params: {} }], edges: [{ from: 'a', to: 'b', type: 'image' }, { from: 'a', to: 'b', type: 'detections' }] });
    expect(def.edges).toEqual([{ from: 'a', to: 'b' }]);
    expect(def.nodes[0]).toEqual({ id: 'a', part: 'detect' });
  });
  it('does not share params objects with the definition', () => {
    const g = fromDefinition(standard, partMap);
    g.nodes[0]!.params.width = 1;
    expect((standard.nodes[0]!.params as Record<string, unknown>).width).toBe(640);
  });
});

describe('ids', () => {
  it('picks the first free id and cleans characters', () => {
    expect(nextNodeId('resize', ['blur'])).toBe('resize');
    expect(nextNodeId('resize', new Set(['resize', 'resize_2']))).toBe('resize_3');
    expect(nextNodeId('a b', [])).toBe('a_b');
  });
  it('checks a new id like the server', () => {
    expect(checkNodeId('ok_id-1', ['x'])).toBeNull();
    expect(checkNodeId('x', ['x'])).toBe('duplicateId');
    expect(checkNodeId('bad id', [])).toBe('badId');
    expect(checkNodeId('', [])).toBe('badId');
    expect(checkNodeId('a'.repeat(65), [])).toBe('badId');
  });
  it('lists sinks', () => {
    expect(sinks({ nodes: nodes.map((n) => ({ ...n, params: {} })), edges: chain })).toEqual(['detect', 'count', 'judge']);
  });
});
