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
  // pipelines.parts translates the parts catalogue, which the API serves in
  // English: en leaves it empty (the API's text is shown), so it is not compared.
  const compared = (ns: string, lang: 'ja' | 'en') => keys(r[lang]?.[ns]).filter((k) => !(ns === 'pipelines' && k.startsWith('parts.')));
  for (const ns of Object.keys(r.en ?? {})) {
    it(`has the same keys in ja and en for ${ns}`, () => {
      expect(compared(ns, 'ja').sort()).toEqual(compared(ns, 'en').sort());
    });
  }
  it('leaves English part texts to the API', () => {
    expect(r.en?.pipelines?.parts).toEqual({});
  });
});
