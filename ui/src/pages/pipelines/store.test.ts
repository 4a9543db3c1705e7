import { describe, expect, it, vi } from 'vitest';
import { DecorationStore } from './store';

describe('DecorationStore', () => {
  it('notifies only the node that changed', () => {
    const s = new DecorationStore();
    const a = vi.fn();
    const b = vi.fn();
    s.subscribe('a', a);
    s.subscribe('b', b);
    s.update('a', { run: { node_id: 'a', status: 'running' } });
    expect(a).toHaveBeenCalledTimes(1);
    expect(b).not.toHaveBeenCalled();
    expect(s.get('a').run?.status).toBe('running');
  });
  it('setAll touches only nodes whose value changed', () => {
    const s = new DecorationStore();
    const p = [{ code: 'x' }];
    s.update('a', { problems: p });
    const a = vi.fn();
    const b = vi.fn();
    s.subscribe('a', a);
    s.subscribe('b', b);
    s.setAll('problems', new Map([['a', p]]));
    expect(a).not.toHaveBeenCalled();
    s.setAll('problems', new Map([['b', p]]));
    expect(a).toHaveBeenCalledTimes(1);
    expect(b).toHaveBeenCalledTimes(1);
    expect(s.get('a').problems).toBeUndefined();
  });
});
