import { describe, expect, it } from 'vitest';
import { fromServer, paramOf, place } from './problems';

describe('server problems', () => {
  const def = { name: 'x', nodes: [{ id: 'resize', part: 'resize' }, { id: 'blur', part: 'gaussian_blur' }] };
  it('names the node from the field when the server did not', () => {
    const ps = fromServer({ problems: [{ field: 'nodes[1].params.ksize', message: 'must be odd, got 4' }, { node: 'resize', field: 'edges', message: 'cycle' }, { message: 'general' }] }, def);
    expect(ps.map((p) => p.node)).toEqual(['blur', 'resize', undefined]);
    const placed = place(ps, ['resize', 'blur']);
    expect(placed.byNode.get('blur')?.[0]?.message).toBe('must be odd, got 4');
    expect(placed.general.map((p) => p.message)).toEqual(['general']);
  });
  it('finds the parameter a field names', () => {
    expect(paramOf('nodes[1].params.ksize')).toBe('ksize');
    expect(paramOf('nodes[1].id')).toBeNull();
    expect(paramOf(undefined)).toBeNull();
  });
  it('returns nothing without a problem list', () => {
    expect(fromServer(undefined, def)).toEqual([]);
  });
});
