import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { useSession } from './session';

export function Login() {
  const { t } = useTranslation();
  const { login } = useSession();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await login(username, password);
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="login-wrap">
      <form className="card login-card grid" onSubmit={submit}>
        <div className="brand" style={{ color: 'var(--text)', padding: 0 }}>
          <span className="brand-mark" style={{ color: '#fff' }}>
            IF
          </span>
          {t('app')}
        </div>
        <div>
          <h1>{t('login.title')}</h1>
          <p className="muted" style={{ margin: '4px 0 0' }}>
            {t('login.subtitle')}
          </p>
        </div>
        <div className="field">
          <label htmlFor="username">{t('login.username')}</label>
          <input id="username" className="input" autoComplete="username" value={username} onChange={(e) => setUsername(e.target.value)} autoFocus />
        </div>
        <div className="field">
          <label htmlFor="password">{t('login.password')}</label>
          <input id="password" className="input" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} />
        </div>
        {error && (
          <div className="banner banner-error" role="alert">
            {t('login.failed', { message: error })}
          </div>
        )}
        <button className="btn btn-primary" type="submit" disabled={busy || !username || !password}>
          {t('login.submit')}
        </button>
      </form>
    </div>
  );
}
