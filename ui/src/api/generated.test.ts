// The generated API types must match the servers' OpenAPI documents:
// run `npm run gen:api` after changing a route or schema.
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
// @ts-expect-error plain ESM script without types
import { generate, root, sources } from '../../scripts/gen-api.mjs';
import { join } from 'node:path';

describe('generated API types', () => {
  for (const s of sources as { doc: string; out: string }[]) {
    it(`${s.out} is up to date with ${s.doc}`, async () => {
      const want = await (generate as (doc: string) => Promise<string>)(s.doc);
      const have = await readFile(join(root as string, s.out), 'utf8');
      expect(have === want, `${s.out} is stale: run npm run gen:api in ui/`).toBe(true);
    });
  }
});
