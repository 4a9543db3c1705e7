import { describe, expect, it } from 'vitest';
import { parseConfig } from './config';
import { visibleNav } from './Layout';

describe('runtime config', () => {
  it('defaults to cloud mode without an edge', () => {
    expect(parseConfig(null)).toEqual({ mode: 'cloud', edgeUrl: '' });
    expect(parseConfig({ mode: 'bogus', edge_url: 42 })).toEqual({ mode: 'cloud', edgeUrl: '' });
  });
  it('reads edge mode and trims the trailing slash of the edge URL', () => {
    expect(parseConfig({ mode: 'edge', edge_url: 'http://127.0.0.1:8081/' })).toEqual({ mode: 'edge', edgeUrl: 'http://127.0.0.1:8081' });
  });
});

describe('navigation follows the role', () => {
  const perms = (list: string[]) => (p: string) => list.includes(p);
  it('shows an integrator the fleet but not the review', () => {
    const keys = visibleNav(perms(['devices:read', 'devices:manage']), false).map((n) => n.key);
    expect(keys).toEqual(['fleet']);
  });
  it('shows the inspector screen only when an edge agent is configured', () => {
    expect(visibleNav(perms([]), false).map((n) => n.key)).toEqual([]);
    expect(visibleNav(perms([]), true).map((n) => n.key)).toEqual(['inspect']);
  });
});
