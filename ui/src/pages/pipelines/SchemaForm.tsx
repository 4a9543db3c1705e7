// SchemaForm renders a form for a JSON Schema (2020-12) object: integers and
// numbers with their bounds, string enums as selects, booleans, defaults and
// descriptions as help. Every change is validated with ajv at once and the
// error shown under its field; values are emitted typed (numbers as
// numbers), and clearing a field removes it so the default applies.
import { memo, useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { Params } from './graph';
import { fieldErrorMap, validateSchema, type FieldError, type JSONSchema } from './params';

export interface SchemaFormProps {
  schema: JSONSchema;
  value: Params;
  onChange: (next: Params) => void;
  /** validate: defaults to ajv against schema; pass validateParams for a part's extra rules. */
  validate?: (value: Params) => FieldError[];
  /** extraErrors: messages from elsewhere (the server), by field. */
  extraErrors?: Record<string, string>;
  readOnly?: boolean;
  idPrefix?: string;
}

function typeOf(s: JSONSchema): string {
  const t = Array.isArray(s.type) ? s.type.find((x) => x !== 'null') : s.type;
  return t ?? (s.enum ? typeof s.enum[0] : 'string');
}

function show(v: unknown): string {
  return v === undefined || v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
}

export const SchemaForm = memo(function SchemaForm({ schema, value, onChange, validate, extraErrors, readOnly, idPrefix = 'param' }: SchemaFormProps) {
  const { t } = useTranslation('pipelines');
  // Text typed into number fields that is not (yet) a number.
  const [drafts, setDrafts] = useState<Record<string, string>>({});
  const errors = useMemo(() => fieldErrorMap(validate ? validate(value) : validateSchema(schema, value)), [schema, value, validate]);
  const props = Object.entries(schema.properties ?? {});
  const required = new Set(schema.required ?? []);

  const set = (key: string, v: unknown) => {
    const next = { ...value };
    if (v === undefined) delete next[key];
    else next[key] = v;
    onChange(next);
  };
  const message = (e: FieldError) => t(`paramErrors.${e.code}`, { ...e.args, defaultValue: String(e.args?.message ?? e.code) });

  if (props.length === 0) return <p className="muted small">{t('form.noParams')}</p>;
  const unknown = Object.keys(value).filter((k) => !schema.properties?.[k]);

  return (
    <div className="schema-form">
      {props.map(([key, s]) => {
        const id = `${idPrefix}-${key}`;
        const type = typeOf(s);
        const current = value[key];
        const effective = current ?? s.default;
        const draft = drafts[key];
        const err = draft !== undefined ? t('paramErrors.notNumber') : errors[key] ? message(errors[key]) : extraErrors?.[key];
        const label = s.title ?? key;
        const hints: string[] = [];
        if (s.minimum !== undefined && s.maximum !== undefined) hints.push(t('form.range', { min: s.minimum, max: s.maximum }));
        else if (s.minimum !== undefined) hints.push(t('form.min', { min: s.minimum }));
        else if (s.maximum !== undefined) hints.push(t('form.max', { max: s.maximum }));
        if (s.default !== undefined) hints.push(t('form.default', { value: show(s.default) }));
        else if (!required.has(key)) hints.push(t('form.optional'));
        const help = (
          <>
            {s.description && <span className="field-help">{s.description}</span>}
            {hints.length > 0 && <span className="field-help">{hints.join(' · ')}</span>}
            {err && (
              <span className="field-error" role="alert" data-testid={`param-error-${key}`}>
                {err}
              </span>
            )}
          </>
        );
        if (type === 'boolean') {
          return (
            <div className="field field-check" key={key}>
              <label htmlFor={id} className="check">
                <input id={id} type="checkbox" disabled={readOnly} checked={effective === true} onChange={(e) => set(key, e.target.checked)} />
                <span>{label}</span>
                {current !== undefined && !readOnly && s.default !== undefined && current !== s.default && <ResetButton onClick={() => set(key, undefined)} />}
              </label>
              {help}
            </div>
          );
        }
        if (s.enum) {
          const options = s.enum;
          return (
            <div className="field" key={key}>
              <label htmlFor={id}>
                {label}
                {required.has(key) && <span className="req">*</span>}
              </label>
              <select
                id={id}
                className={`input${err ? ' invalid' : ''}`}
                disabled={readOnly}
                value={show(effective)}
                onChange={(e) => {
                  const picked = options.find((o) => show(o) === e.target.value);
                  set(key, e.target.value === '' ? undefined : picked);
                }}
              >
                {effective === undefined && <option value="">—</option>}
                {options.map((o) => (
                  <option key={show(o)} value={show(o)}>
                    {show(o)}
                  </option>
                ))}
              </select>
              {help}
            </div>
          );
        }
        if (type === 'integer' || type === 'number') {
          return (
            <div className="field" key={key}>
              <label htmlFor={id}>
                {label}
                {required.has(key) && <span className="req">*</span>}
              </label>
              <div className="row">
                <input
                  id={id}
                  className={`input num${err ? ' invalid' : ''}`}
                  type="text"
                  inputMode={type === 'integer' ? 'numeric' : 'decimal'}
                  aria-invalid={!!err}
                  disabled={readOnly}
                  placeholder={s.default !== undefined ? show(s.default) : ''}
                  value={draft ?? show(current)}
                  onChange={(e) => {
                    const text = e.target.value.trim();
                    if (text === '') {
                      setDrafts(({ [key]: _, ...rest }) => rest);
                      set(key, undefined);
                      return;
                    }
                    const n = Number(text);
                    if (!Number.isFinite(n) || !/^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(text)) {
                      setDrafts((d) => ({ ...d, [key]: e.target.value }));
                      return;
                    }
                    setDrafts(({ [key]: _, ...rest }) => rest);
                    set(key, n);
                  }}
                />
                {s.minimum !== undefined && s.maximum !== undefined && s.maximum - s.minimum <= 1000 && (
                  <input
                    type="range"
                    aria-hidden
                    tabIndex={-1}
                    className="slider"
                    disabled={readOnly}
                    min={s.minimum}
                    max={s.maximum}
                    step={type === 'integer' ? 1 : (s.maximum - s.minimum) / 100}
                    value={typeof effective === 'number' ? effective : s.minimum}
                    onChange={(e) => {
                      setDrafts(({ [key]: _, ...rest }) => rest);
                      set(key, Number(e.target.value));
                    }}
                  />
                )}
              </div>
              {help}
            </div>
          );
        }
        return (
          <div className="field" key={key}>
            <label htmlFor={id}>
              {label}
              {required.has(key) && <span className="req">*</span>}
            </label>
            <input
              id={id}
              className={`input${err ? ' invalid' : ''}`}
              disabled={readOnly}
              placeholder={show(s.default)}
              value={show(current)}
              onChange={(e) => set(key, e.target.value === '' ? undefined : e.target.value)}
            />
            {help}
          </div>
        );
      })}
      {unknown.map((k) => (
        <div className="field" key={k}>
          <span className="field-error" role="alert">
            {errors[k] ? message(errors[k]) : t('paramErrors.unknownParam', { name: k })}
          </span>
          {!readOnly && (
            <button type="button" className="btn btn-sm" onClick={() => set(k, undefined)}>
              {t('form.remove', { name: k })}
            </button>
          )}
        </div>
      ))}
    </div>
  );
});

function ResetButton({ onClick }: { onClick: () => void }) {
  const { t } = useTranslation('pipelines');
  return (
    <button type="button" className="btn btn-ghost btn-sm reset" onClick={(e) => (e.preventDefault(), onClick())}>
      {t('form.reset')}
    </button>
  );
}
