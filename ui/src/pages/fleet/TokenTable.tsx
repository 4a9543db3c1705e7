// TokenTable lists issued enrollment tokens (never their text): line, who
// created them and when, expiry, the device a used one enrolled and
// revocation. Unused, unexpired tokens can be revoked.
import { useTranslation } from 'react-i18next';
import type { CloudSchemas } from '../../api/client';
import { Badge } from '../../components/ui';
import { formatDateTime } from '../../lib/format';
import { formatRelative } from './relative';

export type TokenInfo = CloudSchemas['EnrollmentTokenInfo'];
export type TokenState = TokenInfo['state'];

/** tokenState is the server's state, with an active token past its expiry at now shown as expired. */
export function tokenState(tok: TokenInfo, now: number): TokenState {
  if (tok.state === 'active' && Date.parse(tok.expires_at) <= now) return 'expired';
  return tok.state;
}

const tones: Record<TokenState, 'ok' | 'ng' | 'neutral' | 'warn'> = { active: 'ok', used: 'neutral', expired: 'warn', revoked: 'ng' };

export function TokenTable({ tokens, now, onRevoke }: { tokens: TokenInfo[]; now: number; onRevoke?: (tok: TokenInfo) => void }) {
  const { t, i18n } = useTranslation('fleet');
  const rel = (iso: string | undefined) => formatRelative(iso, now, i18n.language);
  return (
    <table className="table fleet-table token-table" data-testid="token-table">
      <thead>
        <tr>
          <th>{t('tokens.columns.id')}</th>
          <th>{t('tokens.columns.line')}</th>
          <th>{t('tokens.columns.status')}</th>
          <th>{t('tokens.columns.created')}</th>
          <th>{t('tokens.columns.expires')}</th>
          <th>{t('tokens.columns.device')}</th>
          {onRevoke && <th aria-label={t('tokens.revoke.button')} />}
        </tr>
      </thead>
      <tbody>
        {tokens.map((tok) => {
          const state = tokenState(tok, now);
          return (
            <tr key={tok.token_id} data-testid="token-row" data-token={tok.token_id} data-line={tok.line} data-state={state} className={state === 'revoked' ? 'is-revoked' : ''}>
              <td className="mono small">{tok.token_id}</td>
              <td>
                <span className="line-chip">{tok.line}</span>
              </td>
              <td>
                <Badge tone={tones[state]} title={state === 'revoked' ? formatDateTime(tok.revoked_at) : undefined}>
                  {t(`tokens.state.${state}`)}
                </Badge>
                {state === 'revoked' && <div className="muted small">{t('revokedAt', { when: rel(tok.revoked_at) })}</div>}
              </td>
              <td title={formatDateTime(tok.created_at)}>
                {rel(tok.created_at)}
                {tok.created_by && <div className="muted small">{t('tokens.by', { user: tok.created_by })}</div>}
              </td>
              <td title={formatDateTime(tok.expires_at)}>
                {state === 'used' || state === 'revoked' ? <span className="muted">—</span> : rel(tok.expires_at)}
              </td>
              <td>
                {tok.device_id ? (
                  <>
                    <span className="mono small">{tok.device_id}</span>
                    {tok.used_at && <div className="muted small" title={formatDateTime(tok.used_at)}>{t('tokens.usedAt', { when: rel(tok.used_at) })}</div>}
                  </>
                ) : (
                  <span className="muted">{t('tokens.unused')}</span>
                )}
              </td>
              {onRevoke && (
                <td className="actions">
                  {state === 'active' && (
                    <button className="btn btn-sm btn-ghost danger-text" onClick={() => onRevoke(tok)} data-testid="revoke-token">
                      {t('tokens.revoke.button')}
                    </button>
                  )}
                </td>
              )}
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
