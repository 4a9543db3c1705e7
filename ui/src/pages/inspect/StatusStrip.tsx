// The always-visible strip: station, camera, cloud link, queue, last sync,
// last error, model, "Sync now" — and the banners that shout when the
// cloud or the agent is gone.
import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { formatBytes } from '../../lib/format';
import { languages, setLanguage } from '../../i18n';
import { banners, cameraLive, cloudLink, lastError, lastSync, modelVersion, relativeTime, type AgentReach, type EdgeStatus } from './status';

function useNow(ms: number): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}

const linkTone = { connected: 'ok', offline: 'warn', 'not-enrolled': 'warn', revoked: 'ng', disabled: 'muted', unknown: 'muted' } as const;

export function StatusStrip({ status, agent, onSyncNow, syncing, showLanguage }: {
  status: EdgeStatus | null;
  agent: AgentReach;
  onSyncNow: () => void;
  syncing: boolean;
  showLanguage: boolean;
}) {
  const { t, i18n } = useTranslation('inspect');
  const now = useNow(5000);
  const link = agent === 'unreachable' ? 'agentDown' : cloudLink(status);
  const tone = link === 'agentDown' ? 'ng' : linkTone[link];
  const err = agent === 'unreachable' ? '' : lastError(status);
  const synced = lastSync(status);
  const camera = !status || agent === 'unreachable' ? 'unknown' : cameraLive(status) ? 'live' : 'unavailable';
  return (
    <header className="insp-strip" data-testid="status-strip" data-link={link}>
      <div className="insp-strip-brand">
        <span className="brand-mark">IF</span>
        <div>
          <div className="insp-strip-title">{t('title')}</div>
          <div className="insp-strip-sub">{status ? t('strip.station', { line: status.line || '—', device: status.device_id }) : '\u00a0'}</div>
        </div>
      </div>
      <div className={`insp-pill insp-pill-${tone}`} data-testid="sync-state">
        <span className="dot" />
        {t(`link.${link}`)}
      </div>
      <div className={`insp-pill insp-pill-${camera === 'unknown' ? 'muted' : camera === 'live' ? 'ok' : 'ng'}`} data-testid="camera-state">
        <span className="dot" />
        {t(`camera.${camera}`)}
      </div>
      <dl className="insp-strip-facts">
        <div>
          <dt>{t('strip.queued')}</dt>
          <dd data-testid="queued-count">
            {status ? t('strip.queuedValue', { count: status.queued, bytes: formatBytes(status.queued_bytes) }) : '—'}
          </dd>
        </div>
        <div>
          <dt>{t('strip.lastSync')}</dt>
          <dd title={synced ?? ''}>{synced ? relativeTime(synced, i18n.language, now) : t('strip.never')}</dd>
        </div>
        <div>
          <dt>{t('strip.model')}</dt>
          <dd>{modelVersion(status) || '—'}</dd>
        </div>
        {err && (
          <div className="insp-strip-error">
            <dt>{t('strip.lastError')}</dt>
            <dd title={err}>{err}</dd>
          </div>
        )}
      </dl>
      <div className="insp-strip-actions">
        <button className="btn insp-btn-strip" onClick={onSyncNow} disabled={syncing || agent === 'unreachable' || !status?.sync_running} data-testid="sync-now">
          {syncing ? <span className="spinner" /> : '⟳'} {t('strip.syncNow')}
        </button>
        {showLanguage && (
          <div className="insp-lang" role="group" aria-label={t('strip.language')}>
            {languages.map((l) => (
              <button key={l} className={`btn insp-btn-strip ${i18n.language === l ? 'active' : ''}`} onClick={() => setLanguage(l)} aria-pressed={i18n.language === l}>
                {l === 'ja' ? '日本語' : 'EN'}
              </button>
            ))}
          </div>
        )}
      </div>
    </header>
  );
}

export function Banners({ status, agent }: { status: EdgeStatus | null; agent: AgentReach }) {
  const { t } = useTranslation('inspect');
  const list = banners(agent, status);
  if (list.length === 0) return null;
  return (
    <div className="insp-banners">
      {list.map((b) => (
        <div key={b.id} className={`insp-banner insp-banner-${b.tone}`} role="alert" data-testid={`banner-${b.id}`}>
          <span className="insp-banner-icon" aria-hidden>
            {b.tone === 'error' ? '✖' : b.tone === 'warn' ? '⚠' : 'ℹ'}
          </span>
          <div>
            <strong>{t(b.title, b.params)}</strong>
            <span>{t(b.detail, b.params)}</span>
          </div>
        </div>
      ))}
    </div>
  );
}
