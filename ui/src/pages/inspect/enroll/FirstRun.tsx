// FirstRun is the screen a new station shows until it is enrolled: the
// integrator (or lead inspector) pastes the one-time token the cloud's Fleet
// page issued; the agent exchanges it (POST /api/v1/sync/enroll) and starts
// syncing, and the inspector screens appear.
import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { ApiError, unwrap, type EdgeClient } from '../../../api/client';
import { Spinner } from '../../../components/ui';
import type { EdgeStatus } from '../status';
import { AgentNotice } from './AgentNotice';
import { desktopInfo } from './desktop';
import { cloudProblem, tokenProblem } from './firstRun';
import './enroll.css';

export function FirstRun({ edge, status, onEnrolled, onSkip }: {
  edge: EdgeClient;
  status: EdgeStatus;
  onEnrolled: () => void;
  onSkip: () => void;
}) {
  const { t } = useTranslation('desktop');
  const configured = status.sync?.cloud_addr ?? '';
  const [token, setToken] = useState('');
  const [cloud, setCloud] = useState(() => configured || desktopInfo()?.cloud_addr || '');
  const [touched, setTouched] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<{ device_id: string; line: string } | null>(null);
  const tokenErr = tokenProblem(token);
  const cloudErr = cloudProblem(cloud);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setTouched(true);
    if (tokenErr || cloudErr) return;
    setBusy(true);
    setError(null);
    try {
      const c = cloud.trim();
      const body = { token: token.trim(), ...(c && c !== configured ? { cloud_url: c } : {}) };
      const res = await unwrap(edge.POST('/api/v1/sync/enroll', { body }));
      setDone(res);
      onEnrolled();
    } catch (err) {
      if (err instanceof ApiError && err.status === 409) {
        onEnrolled(); // enrolled meanwhile (another screen, or enrollment_token): go on
        return;
      }
      const msg = err instanceof Error ? err.message : String(err);
      setError(err instanceof ApiError && err.status === 0 ? t('enroll.agentUnreachable') : msg);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="insp insp-edge" data-testid="first-run">
      <AgentNotice />
      <form className="insp-start desk-enroll" onSubmit={submit} noValidate data-testid="enroll-form">
        <div className="insp-start-head">
          <h1>{t('enroll.title')}</h1>
          <p>{t('enroll.subtitle')}</p>
        </div>
        <div className="insp-field">
          <label htmlFor="enroll-token">{t('enroll.token')}</label>
          <input
            id="enroll-token"
            className={`input insp-input desk-mono ${touched && tokenErr ? 'invalid' : ''}`}
            value={token}
            onChange={(e) => setToken(e.target.value)}
            placeholder="ifcenr_…"
            autoComplete="off"
            spellCheck={false}
            autoFocus
            aria-invalid={touched && !!tokenErr}
            data-testid="enroll-token"
          />
          {touched && tokenErr && <div className="field-error">{t(tokenErr)}</div>}
          <small className="insp-hint">{t('enroll.tokenHint')}</small>
        </div>
        <div className="insp-field">
          <label htmlFor="enroll-cloud">
            {t('enroll.cloud')} <span className="insp-hint">{t('enroll.cloudHint')}</span>
          </label>
          <input
            id="enroll-cloud"
            className={`input insp-input desk-mono ${touched && cloudErr ? 'invalid' : ''}`}
            value={cloud}
            onChange={(e) => setCloud(e.target.value)}
            placeholder="cloud.example.com:9090"
            autoComplete="off"
            spellCheck={false}
            aria-invalid={touched && !!cloudErr}
            data-testid="enroll-cloud"
          />
          {touched && cloudErr && <div className="field-error">{t(cloudErr)}</div>}
        </div>
        {error && (
          <div className="insp-inline-error" role="alert" data-testid="enroll-error">
            {t('enroll.failed', { message: error })}
          </div>
        )}
        {done && (
          <div className="desk-enrolled" role="status" data-testid="enroll-done">
            {t('enroll.done', { device: done.device_id, line: done.line })}
          </div>
        )}
        <div className="desk-actions">
          <button className="btn btn-primary insp-btn-xl" type="submit" disabled={busy || !!done} data-testid="enroll-submit">
            {busy ? <Spinner /> : null} {t('enroll.submit')}
          </button>
          <button className="btn" type="button" onClick={onSkip} disabled={busy} data-testid="enroll-skip">
            {t('enroll.skip')}
          </button>
        </div>
        <p className="insp-hint">{t('enroll.skipHint', { count: status.queued })}</p>
      </form>
    </div>
  );
}
