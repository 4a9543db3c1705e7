import { describe, expect, it } from 'vitest';
import { fileURL, pickResult, sinkIds } from './result';

const det = { label: 'stain', score: 0.9, box: { x: 1, y: 2, w: 3, h: 4 } };
const nodes = [
  { node_id: 'resize', status: 'succeeded' as const, outputs: { file_id: 'f1' } },
  { node_id: 'detect', status: 'succeeded' as const, outputs: { file_id: 'f3', detections: [det] } },
  { node_id: 'blur', status: 'succeeded' as const, outputs: { file_id: 'f2' } },
];
const def = {
  nodes: [
    { id: 'resize', part: 'resize' },
    { id: 'blur', part: 'gaussian_blur' },
    { id: 'detect', part: 'detect' },
  ],
  edges: [
    { from: 'resize', to: 'blur' },
    { from: 'blur', to: 'detect' },
  ],
};

describe('pickResult', () => {
  it('shows the sink of the definition and its detections', () => {
    expect([...sinkIds(def, { nodes })]).toEqual(['detect']);
    const r = pickResult({ nodes }, def);
    expect(r.imageNode?.node_id).toBe('detect');
    expect(r.detections).toEqual([det]);
    expect(r.annotatedByServer).toBe(true);
  });

  it('knows when the detector does not annotate', () => {
    const d2 = { ...def, nodes: def.nodes.map((n) => (n.id === 'detect' ? { ...n, params: { annotate: false } as unknown as Record<string, never> } : n)) };
    expect(pickResult({ nodes }, d2).annotatedByServer).toBe(false);
  });

  it('falls back to the last node with an image without a definition, and to any node with detections', () => {
    const r = pickResult({ nodes });
    expect(r.imageNode?.node_id).toBe('blur');
    expect(r.detectionNode?.node_id).toBe('detect');
    expect(r.annotatedByServer).toBe(false);
  });

  it('is empty while nothing has output', () => {
    const r = pickResult({ nodes: [{ node_id: 'a', status: 'running' }] }, { nodes: [{ id: 'a', part: 'detect' }] });
    expect(r).toEqual({ imageNode: undefined, detectionNode: undefined, detections: [], annotatedByServer: false });
  });
});

describe('fileURL', () => {
  it('prefers a signed download URL', () => {
    expect(fileURL({ file_id: 'a b' })).toBe('/api/v1/files/a%20b/content');
    expect(fileURL({ file_id: 'x', download_url: '/api/v1/files/x/content?sig=1' })).toBe('/api/v1/files/x/content?sig=1');
    expect(fileURL(undefined)).toBeNull();
    expect(fileURL({})).toBeNull();
  });
});
