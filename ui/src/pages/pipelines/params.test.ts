import { describe, expect, it } from 'vitest';
import { validateParams, validateSchema } from './params';
import { partMap } from './testParts';

const part = (id: string) => partMap.get(id)!;

describe('validateParams', () => {
  it('accepts defaults and in-range values', () => {
    expect(validateParams(part('resize'), {})).toEqual([]);
    expect(validateParams(part('resize'), { width: 8192, interpolation: 'area', keep_aspect: false })).toEqual([]);
  });
  it('names the bound that is broken', () => {
    expect(validateParams(part('resize'), { width: 9000, height: 0 })).toEqual([
      { field: 'width', code: 'maximum', args: { limit: 8192 } },
      { field: 'height', code: 'minimum', args: { limit: 1 } },
    ]);
  });
  it('refuses wrong types, unknown params and values outside an enum', () => {
    expect(validateParams(part('resize'), { width: 1.5, interpolation: 'bicubic', foo: 1 })).toEqual([
      { field: 'foo', code: 'unknownParam', args: { name: 'foo' } },
      { field: 'width', code: 'type_integer' },
      { field: 'interpolation', code: 'enum', args: { values: 'nearest, linear, area, cubic' } },
    ]);
  });
  it('requires required params', () => {
    expect(validateParams(part('crop'), { width: 10 })).toEqual([{ field: 'height', code: 'required' }]);
  });
  it('applies the server rules JSON Schema cannot say', () => {
    expect(validateParams(part('gaussian_blur'), { ksize: 4 })).toEqual([{ field: 'ksize', code: 'odd' }]);
    expect(validateParams(part('canny'), { low: 200 })).toEqual([{ field: 'low', code: 'lowAboveHigh', args: { high: 150 } }]);
    expect(validateParams(part('canny'), { low: 200, high: 300 })).toEqual([]);
  });
  it('reports one error per field', () => {
    expect(validateSchema({ type: 'object', properties: { n: { type: 'integer', minimum: 3, multipleOf: 2 } } }, { n: 1 })).toHaveLength(1);
  });
  it('tolerates a schema ajv cannot compile', () => {
    expect(validateSchema({ type: 'object', properties: { a: { $ref: '#/nope' } } }, { a: 1 })).toEqual([]);
  });
});
