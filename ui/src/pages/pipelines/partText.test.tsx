import { cleanup, fireEvent, render, screen, within } from '@testing-library/react';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import i18n, { resources } from '../../i18n';
import type { Part } from './graph';
import { NodePanel } from './NodePanel';
import { EditorContext } from './editorContext';
import { Palette } from './Palette';
import { partText } from './partText';
import { DecorationStore } from './store';
import { partMap, testParts } from './testParts';

afterEach(cleanup);

describe('part texts', () => {
  beforeEach(async () => {
    await i18n.changeLanguage('ja');
  });
  afterEach(async () => {
    await i18n.changeLanguage('ja');
  });

  it('shows the Japanese title of gaussian_blur in the palette', () => {
    render(<Palette parts={testParts} onAdd={() => undefined} />);
    const item = screen.getByTestId('palette-gaussian_blur');
    expect(within(item).getByText('ガウシアンぼかし')).toBeTruthy();
    expect(within(item).queryByText('Gaussian blur')).toBeNull();
    // A part without translations keeps the API's text.
    expect(within(screen.getByTestId('palette-judge')).getByText('Judge')).toBeTruthy();
  });

  it('finds a part by its Japanese and its English title', () => {
    render(<Palette parts={testParts} onAdd={() => undefined} />);
    const search = screen.getByRole('searchbox');
    fireEvent.change(search, { target: { value: 'ぼかし' } });
    expect(screen.getByTestId('palette-gaussian_blur')).toBeTruthy();
    expect(screen.queryByTestId('palette-resize')).toBeNull();
    fireEvent.change(search, { target: { value: 'gaussian' } });
    expect(screen.getByTestId('palette-gaussian_blur')).toBeTruthy();
  });

  it('shows the API text in English', async () => {
    await i18n.changeLanguage('en');
    render(<Palette parts={testParts} onAdd={() => undefined} />);
    expect(within(screen.getByTestId('palette-gaussian_blur')).getByText('Gaussian blur')).toBeTruthy();
  });

  it('translates the parameter panel', () => {
    render(
      <EditorContext.Provider value={{ parts: partMap, decorations: new DecorationStore() }}>
        <NodePanel nodeId="blur" data={{ part: 'gaussian_blur', params: {} }} readOnly={false} problems={[]} onParams={() => undefined} onRename={() => null} onDelete={() => undefined} />
      </EditorContext.Provider>,
    );
    expect(screen.getByRole('heading', { name: 'ガウシアンぼかし' })).toBeTruthy();
    expect(screen.getByLabelText('カーネルサイズ（奇数）')).toBeTruthy();
  });

  it('falls back to the API text and the id', () => {
    const t = partText(i18n.getFixedT('ja', 'pipelines'));
    const unknown: Part = { id: 'judge', service: 'x', title: 'Judge', description: 'Judges.', inputs: ['image'], outputs: ['image'], params_schema: { type: 'object', properties: { level: { type: 'number', title: 'Level' } } } as never };
    expect(t.title('judge', unknown)).toBe('Judge');
    expect(t.description(unknown)).toBe('Judges.');
    expect(t.schema(unknown)).toBe(unknown.params_schema);
    expect(t.title('gone', undefined)).toBe('gone');
    const blur = partMap.get('gaussian_blur')!;
    expect(t.schema(blur).properties?.ksize?.title).toBe('カーネルサイズ（奇数）');
    expect(t.schema(blur).properties?.ksize?.maximum).toBe(31);
    expect(partText(i18n.getFixedT('en', 'pipelines')).schema(blur)).toBe(blur.params_schema);
  });

  it('has Japanese for every part and parameter of the built-in catalogue', async () => {
    // cloud/catalog/parts.go is the source of GET /api/v1/parts.
    const src = await readFile(join(__dirname, '../../../../cloud/catalog/parts.go'), 'utf8');
    const ids = new Map([...src.matchAll(/^\s*(Part\w+)\s*=\s*"(\w+)"/gm)].map((m) => [m[1]!, m[2]!]));
    const specs = src.split(/\n\t\{\n\t\tid: /).slice(1);
    expect(specs.length).toBe(ids.size);
    const ja = resources().ja?.pipelines?.parts as Record<string, { title: string; description: string; params: Record<string, string> }>;
    for (const spec of specs) {
      const id = ids.get(/^(\w+)/.exec(spec)![1]!)!;
      const params = [...spec.matchAll(/^\s*"(\w+)": \{"type"/gm)].map((m) => m[1]);
      expect(ja[id], id).toBeTruthy();
      expect(ja[id]!.title && ja[id]!.description, id).toBeTruthy();
      expect(Object.keys(ja[id]!.params).sort(), id).toEqual(params.sort());
    }
  });
});
