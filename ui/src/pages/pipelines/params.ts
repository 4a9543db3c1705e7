// Parameter validation: each part's params_schema (JSON Schema 2020-12) with
// ajv, plus the few rules the server checks in Go because JSON Schema cannot
// say them (cloud/catalog/parts.go: odd kernel sizes, low <= high).
import Ajv2020, { type ErrorObject, type ValidateFunction } from 'ajv/dist/2020';
import type { Params, Part } from './graph';

/** JSONSchema is the subset of a params schema the form understands. */
export interface JSONSchema {
  type?: string | string[];
  title?: string;
  description?: string;
  properties?: Record<string, JSONSchema>;
  required?: string[];
  enum?: unknown[];
  default?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  multipleOf?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  additionalProperties?: boolean | JSONSchema;
  [k: string]: unknown;
}

/** FieldError is one problem with one parameter ("" for the params as a whole). */
export interface FieldError {
  field: string;
  code: string;
  args?: Record<string, string | number>;
}

const ajv = new Ajv2020({ allErrors: true, strict: false, validateFormats: false });
const compiled = new WeakMap<object, ValidateFunction | null>();

function compile(schema: JSONSchema): ValidateFunction | null {
  let fn = compiled.get(schema);
  if (fn === undefined) {
    try {
      fn = ajv.compile(schema);
    } catch {
      fn = null; // a schema ajv cannot compile: the server still validates
    }
    compiled.set(schema, fn);
  }
  return fn;
}

function fieldOf(e: ErrorObject): string {
  if (e.keyword === 'required') return String((e.params as { missingProperty?: string }).missingProperty ?? '');
  if (e.keyword === 'additionalProperties') return String((e.params as { additionalProperty?: string }).additionalProperty ?? '');
  return e.instancePath.replace(/^\//, '').split('/')[0] ?? '';
}

function toFieldError(e: ErrorObject): FieldError {
  const p = e.params as Record<string, unknown>;
  const field = fieldOf(e);
  switch (e.keyword) {
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return { field, code: e.keyword, args: { limit: Number(p.limit) } };
    case 'type':
      return { field, code: `type_${String(p.type).split(',')[0]}` };
    case 'enum':
      return { field, code: 'enum', args: { values: ((p.allowedValues as unknown[]) ?? []).join(', ') } };
    case 'required':
      return { field, code: 'required' };
    case 'additionalProperties':
      return { field, code: 'unknownParam', args: { name: field } };
    case 'multipleOf':
      return { field, code: 'multipleOf', args: { n: Number(p.multipleOf) } };
    case 'minLength':
    case 'maxLength':
      return { field, code: e.keyword, args: { limit: Number(p.limit) } };
    case 'pattern':
      return { field, code: 'pattern', args: { pattern: String(p.pattern) } };
    default:
      return { field, code: 'invalid', args: { message: e.message ?? e.keyword } };
  }
}

/** validateSchema validates value against schema; at most one error per field, schema order. */
export function validateSchema(schema: JSONSchema, value: Params): FieldError[] {
  const fn = compile(schema);
  if (!fn || fn(value)) return [];
  const out: FieldError[] = [];
  const seen = new Set<string>();
  for (const e of fn.errors ?? []) {
    const fe = toFieldError(e);
    if (seen.has(fe.field)) continue;
    seen.add(fe.field);
    out.push(fe);
  }
  return out;
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

/** extraChecks are the server's Go-side params rules, keyed by part id. */
const extraChecks: Record<string, (p: Params) => FieldError[]> = {
  gaussian_blur: (p) => odd(p, 'ksize'),
  median_blur: (p) => odd(p, 'ksize'),
  threshold: (p) => odd(p, 'block_size'),
  morphology: (p) => odd(p, 'ksize'),
  canny: (p) => {
    const low = typeof p.low === 'number' ? p.low : 50;
    const high = typeof p.high === 'number' ? p.high : 150;
    return low > high ? [{ field: 'low', code: 'lowAboveHigh', args: { high } }] : [];
  },
};

function odd(p: Params, name: string): FieldError[] {
  const v = p[name];
  return isInt(v) && v % 2 === 0 ? [{ field: name, code: 'odd' }] : [];
}

/** validateParams checks a node's params as the server would. */
export function validateParams(part: Part, params: Params): FieldError[] {
  const schema = part.params_schema as unknown as JSONSchema;
  const errs = validateSchema(schema, params);
  const taken = new Set(errs.map((e) => e.field));
  for (const e of extraChecks[part.id]?.(params) ?? []) if (!taken.has(e.field)) errs.push(e);
  return errs;
}

/** fieldErrorMap indexes errors by field for the form. */
export function fieldErrorMap(errs: readonly FieldError[]): Record<string, FieldError> {
  const m: Record<string, FieldError> = {};
  for (const e of errs) m[e.field] ??= e;
  return m;
}
