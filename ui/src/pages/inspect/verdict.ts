// The human verdict on a capture: what the form holds, what the agent will
// accept (mirrors edge/inspect parseVerdict: OK takes no defect type, NG
// needs one of the product's codes, notes up to 4096 bytes) and the request.
import type { EdgeSchemas } from '../../api/client';

export type Product = EdgeSchemas['ProductJSON'];
export type VerdictRequest = EdgeSchemas['VerdictRequest'];

/** MAX_NOTE_BYTES is the agent's limit on a note (edge/queue MaxNoteLen). */
export const MAX_NOTE_BYTES = 4096;

export interface VerdictDraft {
  result: 'OK' | 'NG' | null;
  defectType: string;
  note: string;
}

export const emptyDraft: VerdictDraft = { result: null, defectType: '', note: '' };

/** Field errors as i18n keys of the inspect namespace. */
export interface VerdictErrors {
  result?: string;
  defectType?: string;
  note?: string;
}

export type Validated = { ok: true; request: VerdictRequest } | { ok: false; errors: VerdictErrors };

function utf8Length(s: string): number {
  return new TextEncoder().encode(s).length;
}

export function validateVerdict(d: VerdictDraft, product: Pick<Product, 'defect_types'>): Validated {
  const errors: VerdictErrors = {};
  const note = d.note.trim();
  if (d.result === null) errors.result = 'verdict.errors.result';
  if (d.result === 'NG') {
    if (!d.defectType) errors.defectType = 'verdict.errors.defectRequired';
    else if (!product.defect_types.some((t) => t.code === d.defectType)) errors.defectType = 'verdict.errors.defectUnknown';
  }
  if (utf8Length(note) > MAX_NOTE_BYTES) errors.note = 'verdict.errors.noteTooLong';
  if (Object.keys(errors).length > 0 || d.result === null) return { ok: false, errors };
  const request: VerdictRequest = { result: d.result };
  if (d.result === 'NG') request.defect_type = d.defectType;
  if (note) request.note = note;
  return { ok: true, request };
}

/** defectName is the product's name for code, or the code itself. */
export function defectName(product: Pick<Product, 'defect_types'> | null | undefined, code: string): string {
  return product?.defect_types.find((t) => t.code === code)?.name ?? code;
}
