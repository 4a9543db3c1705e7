import { describe, expect, it } from 'vitest';
import { resources } from '.';

function keys(o: unknown, prefix = ''): string[] {
  if (typeof o !== 'object' || o === null) return [prefix];
  return Object.entries(o).flatMap(([k, v]) => keys(v, prefix ? `${prefix}.${k}` : k));
}

describe('translations', () => {
  const r = resources();
  it('has Japanese and English with the same namespaces', () => {
    expect(Object.keys(r.ja ?? {}).sort()).toEqual(Object.keys(r.en ?? {}).sort());
  });
  for (const ns of Object.keys(r.en ?? {})) {
    it(`has the same keys in ja and en for ${ns}`, () => {
      expect(keys(r.ja?.[ns]).sort()).toEqual(keys(r.en?.[ns]).sort());
    });
  }
});
