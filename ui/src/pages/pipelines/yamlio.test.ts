import { describe, expect, it } from 'vitest';
import { definitionToYAML, parseDefinitionYAML } from './yamlio';

const standard = `# The standard pipeline
name: standard
nodes:
  - id: resize
    part: resize
    params: {width: 640, height: 640, keep_aspect: true}
  - id: 7
    part: gaussian_blur
edges:
  - {from: resize, to: 7}
`;

describe('parseDefinitionYAML', () => {
  it('parses a definition, ids as strings', () => {
    const r = parseDefinitionYAML(standard);
    expect(r).toEqual({
      ok: true,
      definition: {
        name: 'standard',
        nodes: [{ id: 'resize', part: 'resize', params: { width: 640, height: 640, keep_aspect: true } }, { id: '7', part: 'gaussian_blur' }],
        edges: [{ from: 'resize', to: '7' }],
      },
    });
  });
  it('accepts JSON', () => {
    expect(parseDefinitionYAML('{"name":"x","nodes":[{"id":"a","part":"resize"}]}')).toMatchObject({ ok: true });
  });
  it('refuses unknown fields with their line', () => {
    const r = parseDefinitionYAML('name: x\nnodes:\n  - id: a\n    part: resize\n    colour: red\n');
    expect(r).toEqual({ ok: false, problems: [{ code: 'unknownField', line: 5, path: 'nodes[0]', args: { name: 'colour' } }] });
  });
  it('refuses aliases, merge keys and several documents', () => {
    expect(parseDefinitionYAML('name: &n x\nnodes: []\nedges: *n\n')).toMatchObject({ ok: false, problems: [{ code: 'alias' }] });
    expect(parseDefinitionYAML('name: x\nnodes:\n  - <<: {id: a}\n    part: resize\n')).toMatchObject({ ok: false, problems: [{ code: 'alias' }] });
    expect(parseDefinitionYAML('name: a\n---\nname: b\n')).toMatchObject({ ok: false, problems: [{ code: 'multipleDocuments', line: 2 }] });
  });
  it('reports YAML syntax errors and wrong shapes', () => {
    expect(parseDefinitionYAML('name: [x\n')).toMatchObject({ ok: false, problems: [{ code: 'yaml' }] });
    expect(parseDefinitionYAML('')).toMatchObject({ ok: false, problems: [{ code: 'empty' }] });
    expect(parseDefinitionYAML('- a\n- b\n')).toMatchObject({ ok: false, problems: [{ code: 'expectedMapping' }] });
    expect(parseDefinitionYAML('name: x\nnodes: 3\n')).toMatchObject({ ok: false, problems: [{ code: 'expectedList', path: 'nodes' }] });
    expect(parseDefinitionYAML('name: x\nnodes:\n  - id: [a]\n    part: resize\n')).toMatchObject({ ok: false, problems: [{ code: 'expectedString', path: 'nodes[0].id' }] });
    expect(parseDefinitionYAML('name: x\nnodes:\n  - id: a\n    part: resize\n    params: 3\n')).toMatchObject({ ok: false, problems: [{ code: 'expectedMapping', path: 'nodes[0].params' }] });
    expect(parseDefinitionYAML('name: x\nname: y\n')).toMatchObject({ ok: false, problems: [{ code: 'yaml' }] });
  });
  it('round-trips through definitionToYAML', () => {
    const r = parseDefinitionYAML(standard);
    if (!r.ok) throw new Error('parse');
    const again = parseDefinitionYAML(definitionToYAML(r.definition));
    expect(again).toEqual(r);
  });
});
