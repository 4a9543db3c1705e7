// Inspector screens: used on the shop floor on touch terminals, in the
// desktop app and in a browser on the edge box. They talk only to the edge
// agent's local API (useServices().edge), so they keep working with the
// network unplugged: verdicts are stored on the station and synced later.
import { useCallback, useEffect, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { ApiError, unwrap, type EdgeClient } from '../../api/client';
import { useServices } from '../../app/context';
import { Empty } from '../../components/ui';
import { useAsync } from '../../lib/useAsync';
import { AgentNotice } from './enroll/AgentNotice';
import { useOnAgentReady } from './enroll/desktop';
import { FirstRun } from './enroll/FirstRun';
import { needsEnrollment } from './enroll/firstRun';
import { loadSession, saveSession, type Session, type StoredSession } from './prefs';
import { StartScreen } from './StartScreen';
import { Station } from './Station';
import { Banners, StatusStrip } from './StatusStrip';
import { useEdgeStatus } from './useEdgeStatus';
import './inspect.css';

export function InspectPage() {
  const { edge, edgeBase, config } = useServices();
  const { t } = useTranslation('inspect');
  if (!edge || edgeBase === null) {
    return (
      <div className="page">
        <Empty>{t('noEdge')}</Empty>
      </div>
    );
  }
  return <Inspect edge={edge} edgeBase={edgeBase} edgeMode={config.mode === 'edge'} />;
}

function Inspect({ edge, edgeBase, edgeMode }: { edge: EdgeClient; edgeBase: string; edgeMode: boolean }) {
  const { t } = useTranslation('inspect');
  const { status, agent, version, refresh } = useEdgeStatus(edge, edgeBase);
  useOnAgentReady(refresh);
  const products = useAsync(() => unwrap(edge.GET('/api/v1/products')).then((r) => r.products), [edge]);
  const [stored, setStored] = useState<StoredSession | null>(loadSession);
  const [notice, setNotice] = useState<string | null>(null);
  const [syncing, setSyncing] = useState(false);
  const [enrollLater, setEnrollLater] = useState(false);

  const update = useCallback((s: StoredSession | null) => {
    saveSession(s);
    setStored(s);
  }, []);

  // Sessions live in the agent's memory: after it restarts (or was replaced)
  // the same product/lot/serial/inspector is opened again under a new id,
  // keeping the station's counts, so inspection simply goes on.
  const storedRef = useRef(stored);
  storedRef.current = stored;
  const renew = useCallback(async (): Promise<string | null> => {
    const cur = storedRef.current;
    if (!cur) return null;
    const s = cur.session;
    try {
      const body = { product_code: s.product_code, lot: s.lot, inspector: s.inspector, ...(s.serial ? { serial: s.serial } : {}) };
      const next = await unwrap(edge.POST('/api/v1/sessions', { body }));
      update({ ...cur, session: next });
      return next.session_id;
    } catch (e) {
      if (e instanceof ApiError && e.status !== 0) {
        update(null);
        setNotice(t('session.expired', { message: e.message }));
      }
      return null;
    }
  }, [edge, update, t]);

  const storedId = stored?.session.session_id;
  useEffect(() => {
    if (!storedId || agent !== 'reachable') return;
    let stale = false;
    unwrap(edge.GET('/api/v1/sessions/{session_id}', { params: { path: { session_id: storedId } } })).catch((e: unknown) => {
      if (!stale && e instanceof ApiError && e.status === 404) void renew();
    });
    return () => {
      stale = true;
    };
  }, [edge, storedId, agent, renew]);

  // The products list failed because the agent was down: try again when it is back.
  const { reload: reloadProducts, error: productsError } = products;
  useEffect(() => {
    if (agent === 'reachable' && productsError) reloadProducts();
  }, [agent, productsError, reloadProducts]);

  const syncNow = async () => {
    setSyncing(true);
    try {
      await unwrap(edge.POST('/api/v1/sync/now'));
    } catch {
      // the strip shows the sync error from the status
    } finally {
      setSyncing(false);
      refresh();
    }
  };

  const product = products.data?.find((p) => p.code === stored?.session.product_code);
  if (edgeMode && !enrollLater && status && needsEnrollment(status)) {
    return <FirstRun edge={edge} status={status} onEnrolled={refresh} onSkip={() => setEnrollLater(true)} />;
  }
  return (
    <div className={`insp ${edgeMode ? 'insp-edge' : ''}`} data-testid="inspect">
      <StatusStrip status={status} agent={agent} onSyncNow={() => void syncNow()} syncing={syncing} showLanguage={edgeMode} />
      <AgentNotice />
      <Banners status={status} agent={agent} />
      {notice && (
        <div className="insp-notice" role="status">
          {notice}
          <button className="btn btn-sm" onClick={() => setNotice(null)}>
            {t('actions.close', { ns: 'common' })}
          </button>
        </div>
      )}
      {stored ? (
        <Station
          key={stored.run}
          edge={edge}
          edgeBase={edgeBase}
          stored={stored}
          product={product}
          status={status}
          agent={agent}
          statusVersion={version}
          refreshStatus={refresh}
          onCounts={(ok, ng) => setStored((s) => {
            if (!s) return s;
            const next = { ...s, ok: s.ok + ok, ng: s.ng + ng };
            saveSession(next);
            return next;
          })}
          onEnd={() => update(null)}
          onLost={renew}
        />
      ) : (
        <StartScreen
          edge={edge}
          products={products.data}
          productsError={products.error}
          onRetry={products.reload}
          onStarted={(s: Session) => {
            setNotice(null);
            update({ session: s, ok: 0, ng: 0, run: s.session_id });
          }}
        />
      )}
    </div>
  );
}
