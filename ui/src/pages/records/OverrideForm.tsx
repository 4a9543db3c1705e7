import { useEffect, useRef, useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { ApiError } from '../../api/client';
import { overrideBody, serverErrors, validateOverride, type OverrideErrors, type OverrideForm as Form } from './override';
import type { CloudSchemas } from '../../api/client';

export interface OverrideFormProps {
  /** the verdict the form opens with */
  initial: Form;
  defectTypes: { code: string; name?: string }[];
  /** changes whenever the form is (re)opened: the reason field takes focus */
  focusKey: number;
  onSubmit: (body: CloudSchemas['OverrideRequest']) => Promise<void>;
  onClose: () => void;
}

/** OverrideForm changes a record's verdict; the reason is required and errors show inline, field by field. */
export function OverrideForm({ initial, defectTypes, focusKey, onSubmit, onClose }: OverrideFormProps) {
  const { t } = useTranslation('records');
  const [form, setForm] = useState<Form>(initial);
  const [touched, setTouched] = useState(false);
  const [server, setServer] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<string | null>(null);
  const reason = useRef<HTMLInputElement>(null);
  useEffect(() => {
    setForm(initial);
    setTouched(false);
    setServer({});
    setFailure(null);
    reason.current?.focus();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [focusKey]);

  const codes = defectTypes.map((d) => d.code);
  const errors: OverrideErrors = validateOverride(form, codes);
  const shown = (k: keyof OverrideErrors): string | undefined => {
    if (server[k]) return server[k];
    if (!touched) return undefined;
    const e = errors[k];
    return e ? t(`override.errors.${e}`) : undefined;
  };
  const update = (patch: Partial<Form>) => {
    setForm((f) => ({ ...f, ...patch }));
    setServer({});
  };

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setTouched(true);
    if (Object.keys(errors).length > 0) {
      (errors.defectType ? document.getElementById('ov-defect') : reason.current)?.focus();
      return;
    }
    setBusy(true);
    setFailure(null);
    try {
      await onSubmit(overrideBody(form));
    } catch (err) {
      if (err instanceof ApiError && err.status === 422) setServer(serverErrors(err.problem));
      else setFailure(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };

  const errId = (k: string) => `ov-${k}-error`;
  return (
    <form
      className="rv-override"
      onSubmit={submit}
      noValidate
      data-testid="override-form"
      data-shortcuts="off"
      onKeyDown={(e) => {
        if (e.key === 'Escape') {
          e.preventDefault();
          onClose();
        }
      }}
    >
      <div className="rv-override-head">
        <h3>{t('override.title')}</h3>
        <span className="muted small">{t('override.hint')}</span>
      </div>
      <div className="rv-override-grid">
        <div className="field">
          <span className="rv-label" id="ov-result-label">
            {t('override.result')}
          </span>
          <div className="rv-seg" role="radiogroup" aria-labelledby="ov-result-label">
            {(['OK', 'NG'] as const).map((r) => (
              <label key={r} className={`rv-seg-opt ${r === 'OK' ? 'ok' : 'ng'}${form.result === r ? ' on' : ''}`}>
                <input type="radio" name="ov-result" value={r} checked={form.result === r} onChange={() => update({ result: r, defectType: r === 'OK' ? '' : form.defectType })} />
                {r}
              </label>
            ))}
          </div>
        </div>
        <div className="field">
          <label htmlFor="ov-defect">{t('override.defectType')}</label>
          <select
            id="ov-defect"
            className={`input${shown('defectType') ? ' invalid' : ''}`}
            value={form.defectType}
            disabled={form.result !== 'NG'}
            aria-invalid={!!shown('defectType')}
            aria-describedby={shown('defectType') ? errId('defect') : undefined}
            onChange={(e) => update({ defectType: e.target.value })}
          >
            <option value="">{t('override.chooseDefect')}</option>
            {defectTypes.map((d) => (
              <option key={d.code} value={d.code}>
                {d.name ? `${d.name} (${d.code})` : d.code}
              </option>
            ))}
          </select>
          {shown('defectType') && (
            <span className="field-error" id={errId('defect')}>
              {shown('defectType')}
            </span>
          )}
        </div>
        <div className="field rv-span2">
          <label htmlFor="ov-reason">{t('override.reason')}</label>
          <input
            id="ov-reason"
            ref={reason}
            className={`input${shown('reason') ? ' invalid' : ''}`}
            value={form.reason}
            placeholder={t('override.reasonPlaceholder')}
            aria-required
            aria-invalid={!!shown('reason')}
            aria-describedby={shown('reason') ? errId('reason') : undefined}
            onChange={(e) => update({ reason: e.target.value })}
            onBlur={() => form.reason && setTouched(true)}
          />
          {shown('reason') && (
            <span className="field-error" id={errId('reason')}>
              {shown('reason')}
            </span>
          )}
        </div>
        <div className="field rv-span2">
          <label htmlFor="ov-note">{t('override.note')}</label>
          <input
            id="ov-note"
            className={`input${shown('note') ? ' invalid' : ''}`}
            value={form.note}
            placeholder={t('override.notePlaceholder')}
            aria-invalid={!!shown('note')}
            onChange={(e) => update({ note: e.target.value })}
          />
          {shown('note') && <span className="field-error">{shown('note')}</span>}
        </div>
      </div>
      {failure && (
        <div className="banner banner-error" role="alert">
          {failure}
        </div>
      )}
      <div className="row rv-override-actions">
        <span className="spacer" />
        <button type="button" className="btn" onClick={onClose}>
          {t('common:actions.cancel')}
        </button>
        <button type="submit" className={`btn ${form.result === 'NG' ? 'btn-danger' : 'btn-ok'}`} disabled={busy}>
          {busy ? t('override.saving') : t('override.submit')}
        </button>
      </div>
    </form>
  );
}
