// FleetTable lists devices: status, last heartbeat, what waits in their sync
// queue, and the versions they run.
import { useTranslation } from 'react-i18next';
import type { CloudSchemas } from '../../api/client';
import { Badge } from '../../components/ui';
import { formatBytes, formatDateTime } from '../../lib/format';
import { ageMs, formatRelative } from './relative';

export type Device = CloudSchemas['Device'];

/** A queue whose oldest record waited longer than this is flagged. */
export const staleQueueMs = 30 * 60 * 1000;

export function deviceState(d: Device): 'online' | 'offline' | 'revoked' {
  if (d.revoked_at) return 'revoked';
  return d.online ? 'online' : 'offline';
}

export function FleetTable({ devices, now, canManage, onRevoke }: { devices: Device[]; now: number; canManage: boolean; onRevoke?: (d: Device) => void }) {
  const { t, i18n } = useTranslation('fleet');
  const rel = (iso: string | undefined) => formatRelative(iso, now, i18n.language);
  return (
    <table className="table fleet-table" data-testid="fleet-table">
      <thead>
        <tr>
          <th>{t('columns.device')}</th>
          <th>{t('columns.line')}</th>
          <th>{t('columns.status')}</th>
          <th>{t('columns.lastSeen')}</th>
          <th>{t('columns.queue')}</th>
          <th>{t('columns.agent')}</th>
          <th>{t('columns.model')}</th>
          {canManage && <th aria-label={t('revoke.button')} />}
        </tr>
      </thead>
      <tbody>
        {devices.map((d) => {
          const state = deviceState(d);
          const oldest = ageMs(d.oldest_queued, now);
          const stale = d.queued > 0 && oldest !== null && oldest > staleQueueMs;
          return (
            <tr key={d.device_id} data-testid="device-row" data-device={d.device_id} data-state={state} className={state === 'revoked' ? 'is-revoked' : ''}>
              <td>
                <div className="dev-name">{d.name || d.device_id}</div>
                {d.name && d.name !== d.device_id && <div className="mono muted small">{d.device_id}</div>}
              </td>
              <td>
                <span className="line-chip">{d.line}</span>
              </td>
              <td>
                <Badge tone={state === 'online' ? 'ok' : state === 'revoked' ? 'ng' : 'neutral'} title={state === 'revoked' ? formatDateTime(d.revoked_at) : undefined}>
                  <span className="dot" />
                  {t(`state.${state}`)}
                </Badge>
                {state === 'revoked' && <div className="muted small">{t('revokedAt', { when: rel(d.revoked_at) })}</div>}
              </td>
              <td title={d.last_seen ? formatDateTime(d.last_seen) : undefined}>{d.last_seen ? rel(d.last_seen) : <span className="muted">{t('never')}</span>}</td>
              <td>
                {d.queued > 0 ? (
                  <div className={`queue${stale ? ' queue-stale' : ''}`}>
                    <span className="queue-count">{t('queue.records', { count: d.queued, formatted: d.queued.toLocaleString(i18n.language) })}</span>
                    <span className="muted small"> · {formatBytes(d.queued_bytes)}</span>
                    {d.oldest_queued && (
                      <div className="small queue-oldest" title={formatDateTime(d.oldest_queued)}>
                        {t('queue.oldest', { age: rel(d.oldest_queued) })}
                      </div>
                    )}
                  </div>
                ) : (
                  <span className="muted">{t('queue.empty')}</span>
                )}
              </td>
              <td className="mono small">{d.agent_version || '—'}</td>
              <td className="mono small">{d.model_version || '—'}</td>
              {canManage && (
                <td className="actions">
                  {state !== 'revoked' && onRevoke && (
                    <button className="btn btn-sm btn-ghost danger-text" onClick={() => onRevoke(d)} data-testid="revoke-device">
                      {t('revoke.button')}
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
