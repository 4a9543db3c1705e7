import { describe, expect, it } from 'vitest';
import { effectiveOverrideId, overrideBody, serverErrors, validateOverride, type OverrideForm } from './override';
import type { CloudSchemas } from '../../api/client';

const form = (p: Partial<OverrideForm>): OverrideForm => ({ result: 'NG', defectType: 'dent', note: '', reason: 'seen on review', ...p });
const codes = ['scratch', 'dent'];

describe('validateOverride', () => {
  it('accepts a complete NG and a plain OK', () => {
    expect(validateOverride(form({}), codes)).toEqual({});
    expect(validateOverride(form({ result: 'OK', defectType: '' }), codes)).toEqual({});
  });
  it('requires a reason (not blank)', () => {
    expect(validateOverride(form({ reason: '' }), codes)).toEqual({ reason: 'reasonRequired' });
    expect(validateOverride(form({ reason: '   ' }), codes)).toEqual({ reason: 'reasonRequired' });
    expect(validateOverride(form({ reason: 'あ'.repeat(334) }), codes)).toEqual({ reason: 'reasonTooLong' }); // 1002 bytes
  });
  it('requires a known defect type for NG', () => {
    expect(validateOverride(form({ defectType: '' }), codes)).toEqual({ defectType: 'defectRequired' });
    expect(validateOverride(form({ defectType: 'crack' }), codes)).toEqual({ defectType: 'defectUnknown' });
    expect(validateOverride(form({ defectType: 'crack' }), [])).toEqual({});
  });
  it('bounds the note', () => {
    expect(validateOverride(form({ note: 'x'.repeat(2001) }), codes)).toEqual({ note: 'noteTooLong' });
  });
  it('reports every problem at once', () => {
    expect(validateOverride(form({ defectType: '', reason: '' }), codes)).toEqual({ defectType: 'defectRequired', reason: 'reasonRequired' });
  });
});

describe('overrideBody', () => {
  it('sends lower-case results, no defect for OK, trimmed text', () => {
    expect(overrideBody(form({ note: '  n ', reason: ' why ' }))).toEqual({ result: 'ng', defect_type: 'dent', note: 'n', reason: 'why' });
    expect(overrideBody(form({ result: 'OK', defectType: 'dent' }))).toEqual({ result: 'ok', reason: 'seen on review' });
  });
});

describe('serverErrors', () => {
  it('maps problem fields onto form fields', () => {
    expect(serverErrors({ status: 422, problems: [{ field: 'defect_type', message: 'bad' }, { field: 'reason', message: 'required' }, { field: 'other', message: 'x' }] })).toEqual({ defectType: 'bad', reason: 'required' });
    expect(serverErrors(undefined)).toEqual({});
  });
});

describe('effectiveOverrideId', () => {
  const ov = (id: string, origin: 'edge' | 'cloud', at: string): CloudSchemas['Override'] => ({ override_id: id, origin, at, actor: 'a', reason: 'r', verdict: { result: 'ng' } });
  it('is none without overrides', () => expect(effectiveOverrideId([])).toBeNull());
  it('takes the latest edge override when there is no cloud one', () => {
    expect(effectiveOverrideId([ov('e1', 'edge', '2026-01-01T00:00:00Z'), ov('e2', 'edge', '2026-01-02T00:00:00Z')])).toBe('e2');
  });
  it('lets any cloud override outrank later edge overrides', () => {
    expect(effectiveOverrideId([ov('c1', 'cloud', '2026-01-01T00:00:00Z'), ov('e1', 'edge', '2026-01-05T00:00:00Z'), ov('c2', 'cloud', '2026-01-02T00:00:00Z')])).toBe('c2');
  });
});
