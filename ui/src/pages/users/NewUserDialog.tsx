// NewUserDialog creates an account: username, role and initial password,
// each checked as it is typed with the server's rules.
import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { ApiError, cloud, unwrap } from '../../api/client';
import { ErrorBanner, Modal } from '../../components/ui';
import { PasswordField } from './PasswordField';
import { maxUsername, minUsername, passwordProblem, roles, usernameProblem, type Role } from './rules';
import type { User } from './UsersTable';

/** problemMessage shows a 422's field problems, else the error itself. */
export function problemMessage(err: unknown): unknown {
  if (err instanceof ApiError && err.problem?.problems?.length) {
    return new Error(err.problem.problems.map((p) => `${p.field ?? ''} ${p.message ?? ''}`.trim()).join('; '));
  }
  return err;
}

export function NewUserDialog({ existing, onClose, onCreated }: { existing: string[]; onClose: () => void; onCreated: (u: User) => void }) {
  const { t } = useTranslation('users');
  const [username, setUsername] = useState('');
  const [role, setRole] = useState<Role>('inspector');
  const [password, setPassword] = useState('');
  const [touched, setTouched] = useState({ username: false, password: false });
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const nameProblem = usernameProblem(username, existing);
  const pwProblem = passwordProblem(password);
  const nameBad = touched.username && nameProblem !== null;

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setTouched({ username: true, password: true });
    if (nameProblem || pwProblem) return;
    setBusy(true);
    setError(null);
    try {
      onCreated(await unwrap(cloud.POST('/api/v1/users', { body: { username, password, role } })));
    } catch (err) {
      setError(err instanceof ApiError && err.status === 409 ? new Error(t('form.usernameProblem.taken')) : problemMessage(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal
      title={t('create.title')}
      onClose={onClose}
      footer={
        <>
          <button className="btn" type="button" onClick={onClose}>
            {t('actions.cancel', { ns: 'common' })}
          </button>
          <button className="btn btn-primary" type="submit" form="new-user-form" disabled={busy} data-testid="create-user">
            {busy ? t('create.working') : t('create.submit')}
          </button>
        </>
      }
    >
      <form id="new-user-form" className="grid" onSubmit={submit} noValidate>
        <div className="field">
          <label htmlFor="new-username">{t('form.username')}</label>
          <input
            id="new-username"
            className={`input${nameBad ? ' invalid' : ''}`}
            value={username}
            onChange={(e) => setUsername(e.target.value)}
            onBlur={() => setTouched((s) => ({ ...s, username: true }))}
            autoFocus
            autoComplete="off"
            spellCheck={false}
            aria-invalid={nameBad}
          />
          {nameBad ? (
            <div className="field-error" data-testid="new-username-error">
              {t(`form.usernameProblem.${nameProblem}`, { min: minUsername, max: maxUsername })}
            </div>
          ) : (
            <div className="field-help">{t('form.usernameHelp', { min: minUsername, max: maxUsername })}</div>
          )}
        </div>
        <div className="field">
          <label htmlFor="new-role">{t('form.role')}</label>
          <select id="new-role" className="input" value={role} onChange={(e) => setRole(e.target.value as Role)}>
            {roles.map((r) => (
              <option key={r} value={r}>
                {t(`roles.${r}`, { ns: 'common' })}
              </option>
            ))}
          </select>
          <div className="field-help">{t(`roleHelp.${role}`)}</div>
        </div>
        <PasswordField id="new-password" value={password} onChange={setPassword} touched={touched.password} onBlur={() => setTouched((s) => ({ ...s, password: true }))} />
        <ErrorBanner error={error} />
      </form>
    </Modal>
  );
}
