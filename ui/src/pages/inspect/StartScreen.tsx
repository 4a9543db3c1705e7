// Start of a shift or a lot: which product, which lot (and serial), who inspects.
import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { unwrap, type EdgeClient } from '../../api/client';
import { Spinner } from '../../components/ui';
import { loadChoices, saveChoices, type Choices, type Session } from './prefs';
import type { Product } from './verdict';

export function StartScreen({ edge, products, productsError, onRetry, onStarted }: {
  edge: EdgeClient;
  products: Product[] | undefined;
  productsError: unknown;
  onRetry: () => void;
  onStarted: (s: Session) => void;
}) {
  const { t } = useTranslation('inspect');
  const [c, setC] = useState<Choices>(loadChoices);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [touched, setTouched] = useState(false);
  const set = (k: keyof Choices) => (v: string) => setC((o) => ({ ...o, [k]: v }));
  const list = products ?? [];
  const selected = list.find((p) => p.code === c.product_code) ?? (list.length === 1 ? list[0] : undefined);
  const missing = {
    product: !selected,
    lot: c.lot.trim() === '',
    inspector: c.inspector.trim() === '',
  };
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setTouched(true);
    if (!selected || missing.lot || missing.inspector) return;
    const choices = { product_code: selected.code, lot: c.lot.trim(), serial: c.serial.trim(), inspector: c.inspector.trim() };
    setBusy(true);
    setError(null);
    try {
      const body = { product_code: choices.product_code, lot: choices.lot, inspector: choices.inspector, ...(choices.serial ? { serial: choices.serial } : {}) };
      const s = await unwrap(edge.POST('/api/v1/sessions', { body }));
      saveChoices(choices);
      onStarted(s);
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="insp-start" onSubmit={submit} data-testid="start-form">
      <div className="insp-start-head">
        <h1>{t('start.title')}</h1>
        <p>{t('start.subtitle')}</p>
      </div>
      <fieldset className="insp-fieldset">
        <legend>{t('start.product')}</legend>
        {productsError ? (
          <div className="insp-inline-error" role="alert">
            {t('start.productsFailed')}
            <button type="button" className="btn" onClick={onRetry}>
              {t('actions.retry', { ns: 'common' })}
            </button>
          </div>
        ) : !products ? (
          <div className="insp-muted-row">
            <Spinner /> {t('loading', { ns: 'common' })}
          </div>
        ) : list.length === 0 ? (
          <div className="insp-inline-error">{t('start.noProducts')}</div>
        ) : (
          <div className="insp-products" role="radiogroup" aria-label={t('start.product')}>
            {list.map((p) => (
              <button
                type="button"
                key={p.code}
                role="radio"
                aria-checked={selected?.code === p.code}
                className={`insp-product ${selected?.code === p.code ? 'selected' : ''}`}
                onClick={() => set('product_code')(p.code)}
                data-testid={`product-${p.code}`}
              >
                <span className="insp-product-name">{p.name || p.code}</span>
                <span className="insp-product-code">{p.code}</span>
                <span className="insp-product-meta">
                  {t('start.productMeta', { items: p.items.length, defects: p.defect_types.length, version: p.master_version })}
                </span>
              </button>
            ))}
          </div>
        )}
        {touched && missing.product && list.length > 0 && <div className="field-error">{t('start.required')}</div>}
      </fieldset>
      <div className="insp-start-fields">
        <BigField id="insp-lot" label={t('start.lot')} value={c.lot} onChange={set('lot')} error={touched && missing.lot ? t('start.required') : undefined} autoFocus={!!c.product_code && !c.lot} />
        <BigField id="insp-serial" label={t('start.serial')} hint={t('start.optional')} value={c.serial} onChange={set('serial')} />
        <BigField id="insp-inspector" label={t('start.inspector')} value={c.inspector} onChange={set('inspector')} error={touched && missing.inspector ? t('start.required') : undefined} autoComplete="name" />
      </div>
      {error && (
        <div className="insp-inline-error" role="alert">
          {t('start.failed', { message: error })}
        </div>
      )}
      <button className="btn btn-primary insp-btn-xl" type="submit" disabled={busy || !products} data-testid="start-session">
        {busy ? <Spinner /> : '▶'} {t('start.submit')}
      </button>
    </form>
  );
}

function BigField({ id, label, hint, value, onChange, error, autoFocus, autoComplete }: {
  id: string;
  label: string;
  hint?: string;
  value: string;
  onChange: (v: string) => void;
  error?: string;
  autoFocus?: boolean;
  autoComplete?: string;
}) {
  return (
    <div className="insp-field">
      <label htmlFor={id}>
        {label}
        {hint && <span className="insp-hint"> {hint}</span>}
      </label>
      <input
        id={id}
        className={`input insp-input ${error ? 'invalid' : ''}`}
        value={value}
        onChange={(e) => onChange(e.target.value)}
        maxLength={256}
        autoFocus={autoFocus}
        autoComplete={autoComplete ?? 'off'}
        aria-invalid={!!error}
      />
      {error && <div className="field-error">{error}</div>}
    </div>
  );
}
