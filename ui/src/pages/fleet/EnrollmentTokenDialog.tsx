// EnrollmentTokenDialog creates an enrollment token for a line and shows it
// once, with a copy button and its expiry. The API keeps only the token's
// hash; the Fleet page lists issued tokens by a non-secret id.
import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { ApiError, cloud, unwrap, type CloudSchemas } from '../../api/client';
import { ErrorBanner, Modal } from '../../components/ui';
import { formatDateTime } from '../../lib/format';
import { formatRelative } from './relative';
import { defaultTTL, ttlChoices, validLine } from './token';

type Token = CloudSchemas['EnrollmentToken'];

async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // Clipboard API unavailable (plain http, permissions): the old way.
    const ta = document.createElement('textarea');
    ta.value = text;
    ta.setAttribute('readonly', '');
    ta.style.position = 'fixed';
    ta.style.opacity = '0';
    document.body.appendChild(ta);
    ta.select();
    const ok = document.execCommand('copy');
    ta.remove();
    return ok;
  }
}

export function EnrollmentTokenDialog({ lines, onClose, onCreated }: { lines: string[]; onClose: () => void; onCreated?: () => void }) {
  const { t, i18n } = useTranslation('fleet');
  const [line, setLine] = useState(lines.length === 1 ? lines[0]! : '');
  const [ttl, setTTL] = useState<number>(defaultTTL);
  const [touched, setTouched] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [token, setToken] = useState<Token | null>(null);
  const [copied, setCopied] = useState<'yes' | 'failed' | null>(null);

  const lineOK = validLine(line.trim());
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setTouched(true);
    if (!lineOK) return;
    setBusy(true);
    setError(null);
    try {
      setToken(await unwrap(cloud.POST('/api/v1/enrollment-tokens', { body: { line: line.trim(), ttl_seconds: ttl } })));
      setCopied(null);
      onCreated?.();
    } catch (err) {
      const field = err instanceof ApiError ? err.problem?.problems?.[0] : undefined;
      setError(field?.message ? new Error(`${field.field ?? ''} ${field.message}`.trim()) : err);
    } finally {
      setBusy(false);
    }
  };

  if (token) {
    return (
      <Modal
        title={t('token.createdTitle', { line: token.line })}
        onClose={onClose}
        footer={
          <>
            <button className="btn" onClick={() => setToken(null)}>
              {t('token.another')}
            </button>
            <button className="btn btn-primary" onClick={onClose} data-testid="token-done">
              {t('token.done')}
            </button>
          </>
        }
      >
        <div className="grid token-result">
          <div className="banner banner-warn">{t('token.once')}</div>
          <div className="token-box">
            <code data-testid="enrollment-token" onFocus={(e) => window.getSelection()?.selectAllChildren(e.currentTarget)} tabIndex={0}>
              {token.token}
            </code>
            <button
              className="btn btn-sm btn-primary"
              onClick={async () => setCopied((await copyText(token.token)) ? 'yes' : 'failed')}
              data-testid="copy-token"
            >
              {copied === 'yes' ? `✓ ${t('token.copied')}` : t('token.copy')}
            </button>
          </div>
          {copied === 'failed' && <div className="field-error">{t('token.copyFailed')}</div>}
          <div className="token-facts">
            <div>
              <div className="fact-label">{t('token.line')}</div>
              <div className="line-chip">{token.line}</div>
            </div>
            <div>
              <div className="fact-label">{t('token.expires')}</div>
              <div data-testid="token-expiry">
                {formatDateTime(token.expires_at)} <span className="muted">({formatRelative(token.expires_at, Date.now(), i18n.language)})</span>
              </div>
            </div>
          </div>
          <p className="muted small" style={{ margin: 0 }}>
            {t('token.howTo', { line: token.line })}
          </p>
        </div>
      </Modal>
    );
  }

  return (
    <Modal
      title={t('token.title')}
      onClose={onClose}
      footer={
        <>
          <button className="btn" onClick={onClose} type="button">
            {t('actions.cancel', { ns: 'common' })}
          </button>
          <button className="btn btn-primary" type="submit" form="token-form" disabled={busy} data-testid="create-token">
            {busy ? t('token.creating') : t('token.create')}
          </button>
        </>
      }
    >
      <form id="token-form" className="grid" onSubmit={submit} noValidate>
        <div className="field">
          <label htmlFor="token-line">{t('token.line')}</label>
          <input
            id="token-line"
            className={`input${touched && !lineOK ? ' invalid' : ''}`}
            list="token-lines"
            value={line}
            onChange={(e) => setLine(e.target.value)}
            onBlur={() => setTouched(true)}
            autoFocus
            autoComplete="off"
            aria-invalid={touched && !lineOK}
          />
          <datalist id="token-lines">
            {lines.map((l) => (
              <option key={l} value={l} />
            ))}
          </datalist>
          {touched && !lineOK ? <div className="field-error">{t('token.lineInvalid')}</div> : <div className="field-help">{t('token.lineHelp')}</div>}
        </div>
        <div className="field">
          <label htmlFor="token-ttl">{t('token.ttl')}</label>
          <select id="token-ttl" className="input" value={ttl} onChange={(e) => setTTL(Number(e.target.value))}>
            {ttlChoices.map((c) => (
              <option key={c.key} value={c.seconds}>
                {t(`token.ttlOptions.${c.key}`)}
              </option>
            ))}
          </select>
        </div>
        <ErrorBanner error={error} />
      </form>
    </Modal>
  );
}
