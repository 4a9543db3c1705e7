import { useEffect, useRef, useState, type Ref } from 'react';
import { useTranslation } from 'react-i18next';
import { activeCount, dateInputValue, emptyFilters, fromDateInput, lastDays, untilInputValue, type AckFilter, type RecordFilters, type VerdictFilter } from './filters';

export interface Suggestions {
  lines: string[];
  devices: string[];
  products: string[];
  defectTypes: { code: string; name?: string }[];
}

/** TextFilter applies on Enter, on blur, or after a short pause in typing. */
function TextFilter({ id, label, value, list, onApply, inputRef }: { id: string; label: string; value: string; list?: string; onApply: (v: string) => void; inputRef?: Ref<HTMLInputElement> }) {
  const [draft, setDraft] = useState(value);
  // The latest typed text: a blur right after typing must apply it, not a stale render's.
  const latest = useRef(value);
  useEffect(() => {
    setDraft(value);
    latest.current = value;
  }, [value]);
  const timer = useRef<number | undefined>(undefined);
  const apply = () => {
    window.clearTimeout(timer.current);
    const v = latest.current.trim();
    if (v !== value) onApply(v);
  };
  useEffect(() => () => window.clearTimeout(timer.current), []);
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        ref={inputRef}
        className="input"
        value={draft}
        list={list}
        autoComplete="off"
        onChange={(e) => {
          latest.current = e.target.value;
          setDraft(e.target.value);
          window.clearTimeout(timer.current);
          timer.current = window.setTimeout(apply, 400);
        }}
        onKeyDown={(e) => {
          if (e.key === 'Enter') apply();
          if (e.key === 'Escape') (e.target as HTMLInputElement).blur();
        }}
        onBlur={apply}
      />
    </div>
  );
}

export function FiltersBar({ filters, onChange, suggestions, firstRef }: { filters: RecordFilters; onChange: (f: RecordFilters) => void; suggestions: Suggestions; firstRef: Ref<HTMLInputElement> }) {
  const { t } = useTranslation('records');
  const set = <K extends keyof RecordFilters>(k: K, v: RecordFilters[K]) => onChange({ ...filters, [k]: v });
  const n = activeCount(filters);
  const preset = (days: number) => onChange({ ...filters, ...lastDays(days) });
  return (
    <section className="rv-filters" aria-label={t('filters.title')} data-testid="records-filters">
      <div className="rv-filters-head">
        <h2>{t('filters.title')}</h2>
        {n > 0 && <span className="badge badge-info">{t('filters.active', { count: n })}</span>}
        <span className="spacer" />
        <button type="button" className="btn btn-ghost btn-sm" onClick={() => preset(1)}>
          {t('filters.today')}
        </button>
        <button type="button" className="btn btn-ghost btn-sm" onClick={() => preset(7)}>
          {t('filters.last7')}
        </button>
        <button type="button" className="btn btn-ghost btn-sm" onClick={() => preset(14)}>
          {t('filters.last14')}
        </button>
        <button type="button" className="btn btn-sm" disabled={n === 0} onClick={() => onChange({ ...emptyFilters })}>
          {t('filters.clear')}
        </button>
      </div>
      <div className="rv-filters-grid">
        <TextFilter id="f-line" label={t('filters.line')} value={filters.line} list="rv-lines" onApply={(v) => set('line', v)} inputRef={firstRef} />
        <TextFilter id="f-device" label={t('filters.device')} value={filters.device_id} list="rv-devices" onApply={(v) => set('device_id', v)} />
        <TextFilter id="f-product" label={t('filters.product')} value={filters.product_code} list="rv-products" onApply={(v) => set('product_code', v)} />
        <TextFilter id="f-lot" label={t('filters.lot')} value={filters.lot} onApply={(v) => set('lot', v)} />
        <div className="field">
          <label htmlFor="f-verdict">{t('filters.verdict')}</label>
          <select id="f-verdict" className="input" value={filters.verdict} onChange={(e) => set('verdict', e.target.value as VerdictFilter)}>
            <option value="">{t('filters.any')}</option>
            <option value="OK">OK</option>
            <option value="NG">NG</option>
          </select>
        </div>
        <div className="field">
          <label htmlFor="f-defect">{t('filters.defectType')}</label>
          <select id="f-defect" className="input" value={filters.defect_type} onChange={(e) => set('defect_type', e.target.value)}>
            <option value="">{t('filters.any')}</option>
            {suggestions.defectTypes.map((d) => (
              <option key={d.code} value={d.code}>
                {d.name ? `${d.name} (${d.code})` : d.code}
              </option>
            ))}
            {filters.defect_type && !suggestions.defectTypes.some((d) => d.code === filters.defect_type) && <option value={filters.defect_type}>{filters.defect_type}</option>}
          </select>
        </div>
        <div className="field">
          <label htmlFor="f-ack">{t('filters.acknowledged')}</label>
          <select id="f-ack" className="input" value={filters.acknowledged} onChange={(e) => set('acknowledged', e.target.value as AckFilter)}>
            <option value="">{t('filters.any')}</option>
            <option value="no">{t('filters.ackNo')}</option>
            <option value="yes">{t('filters.ackYes')}</option>
          </select>
        </div>
        <div className="field">
          <label htmlFor="f-since">{t('filters.since')}</label>
          <input id="f-since" type="date" className="input" value={dateInputValue(filters.since)} onChange={(e) => set('since', fromDateInput(e.target.value, 'since'))} />
        </div>
        <div className="field">
          <label htmlFor="f-until">{t('filters.until')}</label>
          <input id="f-until" type="date" className="input" value={untilInputValue(filters.until)} onChange={(e) => set('until', fromDateInput(e.target.value, 'until'))} />
        </div>
      </div>
      {filters.shift && (
        <div className="row rv-chips">
          <span className="badge badge-info">
            {t('filters.shift')}: {filters.shift}
            <button type="button" className="rv-chip-x" aria-label={t('filters.removeShift')} onClick={() => set('shift', '')}>
              ✕
            </button>
          </span>
        </div>
      )}
      <datalist id="rv-lines">
        {suggestions.lines.map((l) => (
          <option key={l} value={l} />
        ))}
      </datalist>
      <datalist id="rv-devices">
        {suggestions.devices.map((d) => (
          <option key={d} value={d} />
        ))}
      </datalist>
      <datalist id="rv-products">
        {suggestions.products.map((p) => (
          <option key={p} value={p} />
        ))}
      </datalist>
    </section>
  );
}
