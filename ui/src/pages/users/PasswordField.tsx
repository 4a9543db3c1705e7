// PasswordField is a new-password input with inline validation and a
// show/hide toggle (administrators read the password out to the user).
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { minPassword, passwordProblem } from './rules';

export function PasswordField({ id, value, onChange, touched, onBlur }: { id: string; value: string; onChange: (v: string) => void; touched: boolean; onBlur: () => void }) {
  const { t } = useTranslation('users');
  const [shown, setShown] = useState(false);
  const problem = passwordProblem(value);
  const bad = touched && problem !== null;
  return (
    <div className="field">
      <label htmlFor={id}>{t('form.password')}</label>
      <div className="row">
        <input
          id={id}
          className={`input${bad ? ' invalid' : ''}`}
          style={{ flex: 1 }}
          type={shown ? 'text' : 'password'}
          value={value}
          onChange={(e) => onChange(e.target.value)}
          onBlur={onBlur}
          autoComplete="new-password"
          aria-invalid={bad}
        />
        <button type="button" className="btn btn-sm" onClick={() => setShown((s) => !s)} aria-pressed={shown}>
          {shown ? t('form.hide') : t('form.show')}
        </button>
      </div>
      {bad ? (
        <div className="field-error" data-testid={`${id}-error`}>
          {t(`form.passwordProblem.${problem}`, { min: minPassword })}
        </div>
      ) : (
        <div className="field-help">{t('form.passwordHelp', { min: minPassword, n: value.length })}</div>
      )}
    </div>
  );
}
