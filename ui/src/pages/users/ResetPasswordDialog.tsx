// ResetPasswordDialog sets a new password for another user.
import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { cloud, unwrap } from '../../api/client';
import { ErrorBanner, Modal } from '../../components/ui';
import { problemMessage } from './NewUserDialog';
import { PasswordField } from './PasswordField';
import { passwordProblem } from './rules';
import type { User } from './UsersTable';

export function ResetPasswordDialog({ user, onClose, onDone }: { user: User; onClose: () => void; onDone: () => void }) {
  const { t } = useTranslation('users');
  const [password, setPassword] = useState('');
  const [touched, setTouched] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setTouched(true);
    if (passwordProblem(password)) return;
    setBusy(true);
    setError(null);
    try {
      await unwrap(cloud.POST('/api/v1/users/{username}/password', { params: { path: { username: user.username } }, body: { password } }));
      onDone();
    } catch (err) {
      setError(problemMessage(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal
      title={t('reset.title', { name: user.username })}
      onClose={onClose}
      footer={
        <>
          <button className="btn" type="button" onClick={onClose}>
            {t('actions.cancel', { ns: 'common' })}
          </button>
          <button className="btn btn-primary" type="submit" form="reset-form" disabled={busy} data-testid="confirm-reset">
            {busy ? t('reset.working') : t('reset.confirm')}
          </button>
        </>
      }
    >
      <form id="reset-form" className="grid" onSubmit={submit} noValidate>
        <p className="muted small" style={{ margin: 0 }}>
          {t('reset.body')}
        </p>
        <PasswordField id="reset-password" value={password} onChange={setPassword} touched={touched} onBlur={() => setTouched(true)} />
        <ErrorBanner error={error} />
      </form>
    </Modal>
  );
}
