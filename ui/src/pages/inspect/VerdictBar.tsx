// The actions under the picture: Capture in live view; OK / NG on a still;
// the defect chips and note once NG is chosen.
import { useTranslation } from 'react-i18next';
import { Spinner } from '../../components/ui';
import type { Mode } from './keyboard';
import type { Product, VerdictDraft, VerdictErrors } from './verdict';

export function VerdictBar({ mode, busy, canCapture, product, draft, errors, error, onCapture, onOK, onNG, onDefect, onNote, onSubmitNG, onBack }: {
  mode: Mode;
  busy: 'capture' | 'OK' | 'NG' | null;
  canCapture: boolean;
  product: Product | undefined;
  draft: VerdictDraft;
  errors: VerdictErrors;
  error: string | null;
  onCapture: () => void;
  onOK: () => void;
  onNG: () => void;
  onDefect: (code: string) => void;
  onNote: (note: string) => void;
  onSubmitNG: () => void;
  onBack: () => void;
}) {
  const { t } = useTranslation('inspect');
  const errorBox = error && (
    <div className="insp-inline-error" role="alert" data-testid="action-error">
      {error}
    </div>
  );
  if (mode === 'live' || (mode === 'busy' && busy === 'capture')) {
    return (
      <div className="insp-actions">
        {errorBox}
        <button className="btn insp-btn-capture" onClick={onCapture} disabled={!canCapture || busy !== null} data-testid="capture">
          {busy === 'capture' ? <Spinner /> : <span className="insp-capture-dot" aria-hidden />}
          {t('actions.capture')}
          <kbd className="insp-kbd">Space</kbd>
        </button>
      </div>
    );
  }
  if (mode === 'ng' || busy === 'NG') {
    const types = product?.defect_types ?? [];
    return (
      <form
        className="insp-actions insp-ng"
        onSubmit={(e) => {
          e.preventDefault();
          onSubmitNG();
        }}
      >
        {errorBox}
        <div className="insp-ng-head">
          <strong>{t('verdict.pickDefect')}</strong>
          {errors.defectType && <span className="field-error">{t(errors.defectType)}</span>}
        </div>
        <div className="insp-chips" role="radiogroup" aria-label={t('verdict.defectType')}>
          {types.map((d, i) => (
            <button
              type="button"
              key={d.code}
              role="radio"
              aria-checked={draft.defectType === d.code}
              className={`insp-chip ${draft.defectType === d.code ? 'selected' : ''}`}
              onClick={() => onDefect(d.code)}
              data-testid={`defect-${d.code}`}
            >
              {i < 9 && <kbd className="insp-kbd">{i + 1}</kbd>}
              {d.name || d.code}
            </button>
          ))}
        </div>
        <div className="insp-ng-foot">
          <div className="insp-field insp-note">
            <label htmlFor="insp-note">
              {t('verdict.note')} <span className="insp-hint">{t('start.optional')}</span>
            </label>
            <input id="insp-note" className={`input insp-input ${errors.note ? 'invalid' : ''}`} value={draft.note} onChange={(e) => onNote(e.target.value)} autoComplete="off" data-testid="note" />
            {errors.note && <div className="field-error">{t(errors.note)}</div>}
          </div>
          <button type="button" className="btn insp-btn-big" onClick={onBack} disabled={busy !== null}>
            {t('actions.back')} <kbd className="insp-kbd">Esc</kbd>
          </button>
          <button type="submit" className="btn btn-danger insp-btn-big insp-btn-save-ng" disabled={busy !== null || !draft.defectType} data-testid="save-ng">
            {busy === 'NG' ? <Spinner /> : null}
            {t('actions.saveNg')} <kbd className="insp-kbd">Enter</kbd>
          </button>
        </div>
      </form>
    );
  }
  return (
    <div className="insp-actions">
      {errorBox}
      <div className="insp-verdict-row">
        <button className="btn insp-btn-verdict ok" onClick={onOK} disabled={busy !== null} data-testid="verdict-ok">
          {busy === 'OK' ? <Spinner /> : null}
          <span className="insp-verdict-word">OK</span>
          <span className="insp-verdict-keys">
            <kbd className="insp-kbd">1</kbd> <kbd className="insp-kbd">O</kbd>
          </span>
        </button>
        <button className="btn insp-btn-verdict ng" onClick={onNG} disabled={busy !== null} data-testid="verdict-ng">
          <span className="insp-verdict-word">NG</span>
          <span className="insp-verdict-keys">
            <kbd className="insp-kbd">2</kbd> <kbd className="insp-kbd">N</kbd>
          </span>
        </button>
        <button className="btn insp-btn-retake" onClick={onBack} disabled={busy !== null} data-testid="retake">
          ↺ {t('actions.retake')}
          <kbd className="insp-kbd">Esc</kbd>
        </button>
      </div>
    </div>
  );
}
