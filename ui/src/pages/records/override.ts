// Override form rules (the same the cloud API enforces, checked inline
// before sending) and which entry of the audit history is in force.
import type { CloudSchemas, Problem } from '../../api/client';

type Override = CloudSchemas['Override'];

export const maxReasonBytes = 1000;
export const maxNoteBytes = 2000;

export interface OverrideForm {
  result: 'OK' | 'NG';
  defectType: string;
  note: string;
  reason: string;
}

/** Error keys (records namespace, under override.errors). */
export type OverrideErrors = Partial<Record<'result' | 'defectType' | 'note' | 'reason', string>>;

const bytes = (s: string) => new TextEncoder().encode(s).length;

/**
 * validateOverride lists the problems of a form: a reason is required (and
 * bounded), NG needs a defect type of the product (when the product lists
 * any), OK carries none.
 */
export function validateOverride(f: OverrideForm, defectCodes: readonly string[]): OverrideErrors {
  const e: OverrideErrors = {};
  if (f.result !== 'OK' && f.result !== 'NG') e.result = 'resultRequired';
  if (f.result === 'NG') {
    if (!f.defectType) e.defectType = 'defectRequired';
    else if (defectCodes.length > 0 && !defectCodes.includes(f.defectType)) e.defectType = 'defectUnknown';
  }
  if (!f.reason.trim()) e.reason = 'reasonRequired';
  else if (bytes(f.reason) > maxReasonBytes) e.reason = 'reasonTooLong';
  if (bytes(f.note) > maxNoteBytes) e.note = 'noteTooLong';
  return e;
}

/** overrideBody is the POST /api/v1/records/{id}/overrides body of a valid form. */
export function overrideBody(f: OverrideForm): CloudSchemas['OverrideRequest'] {
  const body: CloudSchemas['OverrideRequest'] = { result: f.result === 'OK' ? 'ok' : 'ng', reason: f.reason.trim() };
  if (f.result === 'NG' && f.defectType) body.defect_type = f.defectType;
  if (f.note.trim()) body.note = f.note.trim();
  return body;
}

/** serverErrors maps a 422 problem document's fields onto the form's fields. */
export function serverErrors(p: Problem | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  const fields: Record<string, keyof OverrideErrors> = { result: 'result', defect_type: 'defectType', note: 'note', reason: 'reason' };
  for (const it of p?.problems ?? []) {
    const f = it.field ? fields[it.field] : undefined;
    if (f && it.message && !out[f]) out[f] = it.message;
  }
  return out;
}

/**
 * effectiveOverrideId is the override in force: the latest cloud override
 * outranks every edge one; otherwise the latest edge override; none when
 * the record's own verdict stands. Overrides come oldest first.
 */
export function effectiveOverrideId(overrides: readonly Override[]): string | null {
  const latest = (origin: Override['origin']) => {
    let best: Override | null = null;
    for (const o of overrides) {
      if (o.origin !== origin) continue;
      if (!best || (Date.parse(o.at ?? '') || 0) >= (Date.parse(best.at ?? '') || 0)) best = o;
    }
    return best;
  };
  return (latest('cloud') ?? latest('edge'))?.override_id ?? null;
}
