import { describe, expect, it } from 'vitest';
import { defectName, MAX_NOTE_BYTES, validateVerdict } from './verdict';

const product = { defect_types: [{ code: 'scratch', name: 'Scratch' }, { code: 'dent', name: 'Dent' }] };

describe('validateVerdict', () => {
  it('OK needs nothing else and sends no defect type', () => {
    expect(validateVerdict({ result: 'OK', defectType: 'scratch', note: '' }, product)).toEqual({ ok: true, request: { result: 'OK' } });
  });
  it('NG requires a defect type of the product', () => {
    expect(validateVerdict({ result: 'NG', defectType: '', note: '' }, product)).toEqual({ ok: false, errors: { defectType: 'verdict.errors.defectRequired' } });
    expect(validateVerdict({ result: 'NG', defectType: 'crack', note: '' }, product)).toEqual({ ok: false, errors: { defectType: 'verdict.errors.defectUnknown' } });
    expect(validateVerdict({ result: 'NG', defectType: 'dent', note: '  burr on edge ' }, product)).toEqual({
      ok: true,
      request: { result: 'NG', defect_type: 'dent', note: 'burr on edge' },
    });
  });
  it('needs a result', () => {
    expect(validateVerdict({ result: null, defectType: '', note: '' }, product)).toEqual({ ok: false, errors: { result: 'verdict.errors.result' } });
  });
  it('limits the note in bytes, as the agent does (Japanese is 3 bytes a character)', () => {
    const ok = 'あ'.repeat(Math.floor(MAX_NOTE_BYTES / 3));
    expect(validateVerdict({ result: 'OK', defectType: '', note: ok }, product).ok).toBe(true);
    const long = 'あ'.repeat(Math.floor(MAX_NOTE_BYTES / 3) + 1);
    expect(validateVerdict({ result: 'OK', defectType: '', note: long }, product)).toEqual({ ok: false, errors: { note: 'verdict.errors.noteTooLong' } });
  });
});

describe('defectName', () => {
  it('looks the code up in the master', () => {
    expect(defectName(product, 'dent')).toBe('Dent');
    expect(defectName(product, 'zzz')).toBe('zzz');
    expect(defectName(null, 'dent')).toBe('dent');
  });
});
