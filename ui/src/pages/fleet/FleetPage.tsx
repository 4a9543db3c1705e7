// Fleet: every edge device with its heartbeat and sync queue, refreshed
// every 10 s; integrators and admins issue, list and revoke enrollment tokens
// and revoke devices.
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { cloud, unwrap, type CloudSchemas } from '../../api/client';
import { useSession } from '../../app/session';
import { Card, Empty, ErrorBanner, Loading, Modal, PageHeader } from '../../components/ui';
import { EnrollmentTokenDialog } from './EnrollmentTokenDialog';
import { deviceState, FleetTable, type Device } from './FleetTable';
import { TokenTable, type TokenInfo } from './TokenTable';
import './fleet.css';

const refreshMs = 10_000;

function Stat({ label, value, tone }: { label: string; value: number; tone?: 'ok' | 'ng' | 'warn' | 'muted' }) {
  return (
    <div className={`fleet-stat${tone ? ` stat-${tone}` : ''}`}>
      <div className="fleet-stat-value">{value.toLocaleString()}</div>
      <div className="fleet-stat-label">{label}</div>
    </div>
  );
}

export function FleetPage() {
  const { t, i18n } = useTranslation('fleet');
  const { can } = useSession();
  const canManage = can('devices:manage');
  const [devices, setDevices] = useState<Device[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [updated, setUpdated] = useState<number>(Date.now());
  const [query, setQuery] = useState('');
  const [line, setLine] = useState('');
  const [tokenOpen, setTokenOpen] = useState(false);
  const [revoking, setRevoking] = useState<Device | null>(null);
  const [revokeBusy, setRevokeBusy] = useState(false);
  const [tokens, setTokens] = useState<TokenInfo[] | null>(null);
  const [revokingToken, setRevokingToken] = useState<TokenInfo | null>(null);
  const gen = useRef(0);
  const tokenGen = useRef(0);

  const loadTokens = useCallback(() => {
    if (!canManage) return;
    const my = ++tokenGen.current;
    unwrap(cloud.GET('/api/v1/enrollment-tokens')).then(
      (r: CloudSchemas['EnrollmentTokenList']) => my === tokenGen.current && setTokens(r.tokens),
      (e: unknown) => my === tokenGen.current && setError(e),
    );
  }, [canManage]);

  const load = useCallback(() => {
    const my = ++gen.current;
    unwrap(cloud.GET('/api/v1/devices')).then(
      (r: CloudSchemas['DeviceList']) => {
        if (my !== gen.current) return;
        setDevices(r.devices);
        setError(null);
        setUpdated(Date.now());
      },
      (e: unknown) => my === gen.current && setError(e),
    );
  }, []);
  useEffect(() => {
    load();
    const timer = window.setInterval(load, refreshMs);
    return () => window.clearInterval(timer);
  }, [load]);
  // Tokens change only when someone creates, uses or revokes one: loaded
  // with the page, on refresh and after each change here.
  useEffect(loadTokens, [loadTokens]);
  const refresh = () => {
    load();
    loadTokens();
  };

  const lines = useMemo(() => [...new Set((devices ?? []).map((d) => d.line))].sort(), [devices]);
  const shown = useMemo(() => {
    const q = query.trim().toLowerCase();
    return (devices ?? [])
      .filter((d) => (!line || d.line === line) && (!q || [d.name, d.device_id, d.line].some((s) => s.toLowerCase().includes(q))))
      .sort((a, b) => a.line.localeCompare(b.line) || (a.name || a.device_id).localeCompare(b.name || b.device_id));
  }, [devices, query, line]);
  const counts = useMemo(() => {
    const c = { online: 0, offline: 0, revoked: 0, queued: 0 };
    for (const d of devices ?? []) {
      c[deviceState(d)]++;
      c.queued += d.queued;
    }
    return c;
  }, [devices]);

  const revoke = async () => {
    if (!revoking) return;
    setRevokeBusy(true);
    try {
      await unwrap(cloud.POST('/api/v1/devices/{device_id}/revoke', { params: { path: { device_id: revoking.device_id } } }));
      setRevoking(null);
      load();
    } catch (e) {
      setError(e);
      setRevoking(null);
    } finally {
      setRevokeBusy(false);
    }
  };

  const revokeToken = async () => {
    if (!revokingToken) return;
    setRevokeBusy(true);
    try {
      await unwrap(cloud.POST('/api/v1/enrollment-tokens/{token_id}/revoke', { params: { path: { token_id: revokingToken.token_id } } }));
    } catch (e) {
      setError(e);
    } finally {
      setRevokingToken(null);
      setRevokeBusy(false);
      loadTokens();
    }
  };

  const time = new Date(updated).toLocaleTimeString(i18n.language === 'ja' ? 'ja-JP' : 'en-GB');
  return (
    <div className="page fleet-page">
      <PageHeader
        title={t('title')}
        subtitle={t('subtitle')}
        actions={
          <>
            <button className="btn" onClick={refresh}>
              ↻ {t('actions.refresh', { ns: 'common' })}
            </button>
            {canManage && (
              <button className="btn btn-primary" onClick={() => setTokenOpen(true)} data-testid="new-token">
                + {t('token.button')}
              </button>
            )}
          </>
        }
      />
      <ErrorBanner error={error} onRetry={refresh} />
      {devices === null && !error ? (
        <Loading />
      ) : (
        <>
          <div className="fleet-stats">
            <Stat label={t('stats.devices')} value={devices?.length ?? 0} />
            <Stat label={t('stats.online')} value={counts.online} tone="ok" />
            <Stat label={t('stats.offline')} value={counts.offline} tone={counts.offline ? 'warn' : 'muted'} />
            <Stat label={t('stats.revoked')} value={counts.revoked} tone={counts.revoked ? 'ng' : 'muted'} />
            <Stat label={t('stats.queued')} value={counts.queued} tone={counts.queued ? 'warn' : 'muted'} />
          </div>
          <Card className="fleet-card">
            <div className="fleet-toolbar">
              <input className="input fleet-search" type="search" placeholder={t('search')} aria-label={t('search')} value={query} onChange={(e) => setQuery(e.target.value)} />
              <select className="input" aria-label={t('columns.line')} value={line} onChange={(e) => setLine(e.target.value)}>
                <option value="">{t('allLines')}</option>
                {lines.map((l) => (
                  <option key={l} value={l}>
                    {l}
                  </option>
                ))}
              </select>
              <div className="spacer" />
              <span className="muted small fleet-updated">
                <span className="live-dot-small" /> {t('autoRefresh', { time })}
              </span>
            </div>
            {shown.length === 0 ? (
              <Empty>{devices?.length ? t('noMatch') : t('empty')}</Empty>
            ) : (
              <FleetTable devices={shown} now={updated} canManage={canManage} onRevoke={setRevoking} />
            )}
          </Card>
          {canManage && (
            <Card className="fleet-card token-card" title={t('tokens.title')}>
              <div className="muted small token-card-sub">{t('tokens.subtitle')}</div>
              {tokens === null ? (
                <Loading />
              ) : tokens.length === 0 ? (
                <Empty>{t('tokens.empty')}</Empty>
              ) : (
                <TokenTable tokens={tokens} now={updated} onRevoke={setRevokingToken} />
              )}
            </Card>
          )}
        </>
      )}

      {tokenOpen && <EnrollmentTokenDialog lines={lines} onClose={() => setTokenOpen(false)} onCreated={loadTokens} />}
      {revokingToken && (
        <Modal
          title={t('tokens.revoke.title', { id: revokingToken.token_id, line: revokingToken.line })}
          onClose={() => setRevokingToken(null)}
          footer={
            <>
              <button className="btn" onClick={() => setRevokingToken(null)}>
                {t('actions.cancel', { ns: 'common' })}
              </button>
              <button className="btn btn-danger" onClick={revokeToken} disabled={revokeBusy} data-testid="confirm-revoke-token">
                {revokeBusy ? t('tokens.revoke.working') : t('tokens.revoke.confirm')}
              </button>
            </>
          }
        >
          <p style={{ margin: 0 }}>{t('tokens.revoke.body')}</p>
        </Modal>
      )}
      {revoking && (
        <Modal
          title={t('revoke.title', { name: revoking.name || revoking.device_id })}
          onClose={() => setRevoking(null)}
          footer={
            <>
              <button className="btn" onClick={() => setRevoking(null)}>
                {t('actions.cancel', { ns: 'common' })}
              </button>
              <button className="btn btn-danger" onClick={revoke} disabled={revokeBusy} data-testid="confirm-revoke">
                {revokeBusy ? t('revoke.working') : t('revoke.confirm')}
              </button>
            </>
          }
        >
          <p style={{ margin: 0 }}>{t('revoke.body')}</p>
        </Modal>
      )}
    </div>
  );
}
