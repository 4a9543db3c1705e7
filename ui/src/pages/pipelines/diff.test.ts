import { describe, expect, it } from 'vitest';
import { diffDefinitions, isEmptyDiff } from './diff';
import type { Definition } from './graph';

const p = (o: Record<string, unknown>) => o as Record<string, never>;
const v1: Definition = {
  name: 'line-a',
  nodes: [
    { id: 'resize', part: 'resize', params: p({ width: 640, height: 640 }) },
    { id: 'blur', part: 'gaussian_blur', params: p({ ksize: 5 }) },
    { id: 'detect', part: 'detect' },
  ],
  edges: [{ from: 'resize', to: 'blur' }, { from: 'blur', to: 'detect' }],
};

describe('diffDefinitions', () => {
  it('finds nothing between equal versions, whatever the key order', () => {
    const same: Definition = { ...v1, nodes: [{ id: 'resize', part: 'resize', params: p({ height: 640, width: 640 }) }, ...v1.nodes.slice(1)] };
    expect(isEmptyDiff(diffDefinitions(v1, same))).toBe(true);
  });
  it('lists added and removed nodes and edges, and changed params', () => {
    const v2: Definition = {
      name: 'line-a',
      nodes: [
        { id: 'resize', part: 'resize', params: p({ width: 800, height: 640, letterbox: true }) },
        { id: 'clahe', part: 'clahe' },
        { id: 'detect', part: 'detect' },
      ],
      edges: [{ from: 'resize', to: 'clahe' }, { from: 'clahe', to: 'detect' }],
    };
    expect(diffDefinitions(v1, v2)).toEqual({
      nodesAdded: [{ id: 'clahe', part: 'clahe' }],
      nodesRemoved: [{ id: 'blur', part: 'gaussian_blur' }],
      nodesChanged: [{ id: 'resize', params: [{ key: 'letterbox', before: undefined, after: true }, { key: 'width', before: 640, after: 800 }] }],
      edgesAdded: [{ from: 'resize', to: 'clahe' }, { from: 'clahe', to: 'detect' }],
      edgesRemoved: [{ from: 'resize', to: 'blur' }, { from: 'blur', to: 'detect' }],
    });
  });
  it('reports a node whose part changed and a renamed pipeline', () => {
    const v2: Definition = { ...v1, name: 'line-b', nodes: [v1.nodes[0]!, { id: 'blur', part: 'median_blur', params: p({ ksize: 5 }) }, v1.nodes[2]!] };
    const d = diffDefinitions(v1, v2);
    expect(d.nodesChanged).toEqual([{ id: 'blur', partBefore: 'gaussian_blur', partAfter: 'median_blur', params: [] }]);
    expect([d.nameBefore, d.nameAfter]).toEqual(['line-a', 'line-b']);
    expect(isEmptyDiff(d)).toBe(false);
  });
  it('compares nested param values structurally', () => {
    const a: Definition = { name: 'x', nodes: [{ id: 'n', part: 'q', params: p({ roi: { x: 1, y: 2 } }) }] };
    const b: Definition = { name: 'x', nodes: [{ id: 'n', part: 'q', params: p({ roi: { y: 2, x: 1 } }) }] };
    const c: Definition = { name: 'x', nodes: [{ id: 'n', part: 'q', params: p({ roi: { y: 3, x: 1 } }) }] };
    expect(isEmptyDiff(diffDefinitions(a, b))).toBe(true);
    expect(diffDefinitions(a, c).nodesChanged[0]!.params[0]!.key).toBe('roi');
  });
});
