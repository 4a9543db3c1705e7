// The inspection loop for one session: live → capture → OK/NG → saved
// (queued for sync) → live again, with the session's counts and its recent
// records beside it.
import { useCallback, useEffect, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { ApiError, unwrap, type EdgeClient } from '../../api/client';
import { actionFor, type Mode } from './keyboard';
import type { StoredSession } from './prefs';
import { RecentRecords, type EdgeRecord } from './RecentRecords';
import { ShortcutLegend } from './ShortcutLegend';
import { Stage, type Capture, type Toast } from './Stage';
import { cameraLive, canCapture, clockTime, type AgentReach, type EdgeStatus } from './status';
import { useLiveView } from './useLiveView';
import { defectName, emptyDraft, validateVerdict, type Product, type VerdictDraft, type VerdictErrors } from './verdict';
import { VerdictBar } from './VerdictBar';

const TOAST_MS = 3000;

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export function Station({ edge, edgeBase, stored, product, status, agent, statusVersion, refreshStatus, onCounts, onEnd, onLost }: {
  edge: EdgeClient;
  edgeBase: string;
  stored: StoredSession;
  product: Product | undefined;
  status: EdgeStatus | null;
  agent: AgentReach;
  statusVersion: number;
  refreshStatus: () => void;
  onCounts: (ok: number, ng: number) => void;
  onEnd: () => void;
  /** The agent no longer knows the session: open it again; the new session id, or null. */
  onLost: () => Promise<string | null>;
}) {
  const { t, i18n } = useTranslation('inspect');
  const session = stored.session;
  const videoRef = useRef<HTMLVideoElement | null>(null);
  const [capture, setCapture] = useState<Capture | null>(null);
  const [ngOpen, setNgOpen] = useState(false);
  const [draft, setDraft] = useState<VerdictDraft>(emptyDraft);
  const [errors, setErrors] = useState<VerdictErrors>({});
  const [busy, setBusy] = useState<'capture' | 'OK' | 'NG' | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [toast, setToast] = useState<Toast | null>(null);
  const [records, setRecords] = useState<EdgeRecord[] | undefined>();
  const [recordsError, setRecordsError] = useState(false);
  const [savedTick, setSavedTick] = useState(0);
  const counted = useRef(new Set<string>());

  const cameraUp = cameraLive(status);
  const agentUp = agent !== 'unreachable';
  const live = useLiveView(edgeBase, videoRef, { showing: !capture, canPlay: agentUp && cameraUp });
  const { whep } = live;
  const mode: Mode = busy ? 'busy' : !capture ? 'live' : ngOpen ? 'ng' : 'review';

  // Back on the air after the agent or the camera returned: renegotiate now rather than at the end of a backoff.
  const wasDown = useRef(false);
  useEffect(() => {
    const down = !agentUp || !cameraUp;
    if (wasDown.current && !down && (live.mode === 'stills' || whep.state !== 'connected')) live.retry();
    wasDown.current = down;
  }, [agentUp, cameraUp, live, whep]);

  // Recent records of this session: refreshed on every status change (a sync changes the queue) and after each save.
  useEffect(() => {
    let stale = false;
    const query = { limit: 10, product_code: session.product_code, lot: session.lot, inspector: session.inspector };
    edge
      .GET('/api/v1/records', { params: { query } })
      .then((r) => unwrap(Promise.resolve(r)))
      .then(
        (h) => {
          if (stale) return;
          setRecords(h.records);
          setRecordsError(false);
        },
        () => !stale && setRecordsError(true),
      );
    return () => {
      stale = true;
    };
  }, [edge, session.product_code, session.lot, session.inspector, statusVersion, savedTick]);

  useEffect(() => {
    if (!toast) return;
    const h = setTimeout(() => setToast(null), TOAST_MS);
    return () => clearTimeout(h);
  }, [toast]);

  const doCapture = useCallback(async () => {
    if (busy || !canCapture(agent, status)) return;
    setBusy('capture');
    setError(null);
    setToast(null);
    const take = (sessionId: string) =>
      unwrap(edge.POST('/api/v1/sessions/{session_id}/captures', { params: { path: { session_id: sessionId } }, body: {} }));
    try {
      let c: Capture;
      try {
        c = await take(session.session_id);
      } catch (e) {
        if (!(e instanceof ApiError && e.status === 404)) throw e;
        const renewed = await onLost();
        if (!renewed) return;
        c = await take(renewed);
      }
      setCapture(c);
      setDraft(emptyDraft);
      setErrors({});
      setNgOpen(false);
    } catch (e) {
      setError(t('errors.capture', { message: message(e) }));
    } finally {
      setBusy(null);
    }
  }, [busy, agent, status, edge, session.session_id, onLost, t]);

  const submit = useCallback(
    async (d: VerdictDraft) => {
      if (!capture || busy) return;
      const v = validateVerdict(d, product ?? { defect_types: [] });
      if (!v.ok) {
        setErrors(v.errors);
        return;
      }
      setErrors({});
      setBusy(v.request.result as 'OK' | 'NG');
      setError(null);
      try {
        const saved = await unwrap(
          edge.POST('/api/v1/captures/{capture_id}/verdict', { params: { path: { capture_id: capture.capture_id } }, body: v.request }),
        );
        const id = saved.record.record_id;
        if (!counted.current.has(id)) {
          counted.current.add(id);
          onCounts(v.request.result === 'OK' ? 1 : 0, v.request.result === 'NG' ? 1 : 0);
        }
        setToast({ result: v.request.result as 'OK' | 'NG', defect: defectName(product, v.request.defect_type ?? ''), duplicate: saved.duplicate });
        setCapture(null);
        setNgOpen(false);
        setDraft(emptyDraft);
        setSavedTick((x) => x + 1);
        refreshStatus();
      } catch (e) {
        setError(t('errors.verdict', { message: message(e) }));
      } finally {
        setBusy(null);
      }
    },
    [capture, busy, product, edge, onCounts, refreshStatus, t],
  );

  const ok = useCallback(() => void submit({ result: 'OK', defectType: '', note: '' }), [submit]);
  const ng = useCallback(() => {
    setNgOpen(true);
    setDraft((d) => ({ ...d, result: 'NG' }));
    setError(null);
  }, []);
  const back = useCallback(() => {
    setError(null);
    setErrors({});
    if (ngOpen) {
      setNgOpen(false);
      setDraft(emptyDraft);
    } else {
      setCapture(null);
    }
  }, [ngOpen]);
  const pickDefect = useCallback((code: string) => {
    setDraft((d) => ({ ...d, result: 'NG', defectType: code }));
    setErrors((e) => ({ ...e, defectType: undefined }));
  }, []);
  const submitNG = useCallback(() => void submit({ ...draft, result: 'NG' }), [submit, draft]);

  // Keyboard: one listener, the current handlers through a ref.
  const handlers = useRef({ mode, doCapture, ok, ng, back, pickDefect, submitNG, product });
  handlers.current = { mode, doCapture, ok, ng, back, pickDefect, submitNG, product };
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const h = handlers.current;
      const a = actionFor(e, h.mode);
      if (!a) return;
      e.preventDefault();
      switch (a.type) {
        case 'capture':
          void h.doCapture();
          break;
        case 'ok':
          h.ok();
          break;
        case 'ng':
          h.ng();
          break;
        case 'back':
          h.back();
          break;
        case 'defect': {
          const d = h.product?.defect_types[a.index];
          if (d) h.pickDefect(d.code);
          break;
        }
        case 'submit':
          h.submitNG();
          break;
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);

  return (
    <div className="insp-work">
      <div className="insp-main">
        <Stage videoRef={videoRef} whep={whep} stills={live.stills} capture={capture} imageBase={edgeBase} cameraUp={cameraUp} agentUp={agentUp} toast={toast} />
        <VerdictBar
          mode={mode}
          busy={busy}
          canCapture={canCapture(agent, status)}
          product={product}
          draft={draft}
          errors={errors}
          error={error}
          onCapture={() => void doCapture()}
          onOK={ok}
          onNG={ng}
          onDefect={pickDefect}
          onNote={(note) => setDraft((d) => ({ ...d, note }))}
          onSubmitNG={submitNG}
          onBack={back}
        />
      </div>
      <aside className="insp-side">
        <section className="insp-panel insp-session" data-testid="session-panel">
          <div className="insp-panel-head">
            <h2>{session.product_name || session.product_code}</h2>
            <button className="btn btn-sm" onClick={onEnd} disabled={busy !== null} data-testid="end-session">
              {t('session.end')}
            </button>
          </div>
          <dl className="insp-session-facts">
            <div>
              <dt>{t('start.lot')}</dt>
              <dd>{session.lot || '—'}</dd>
            </div>
            <div>
              <dt>{t('start.serial')}</dt>
              <dd>{session.serial || '—'}</dd>
            </div>
            <div>
              <dt>{t('start.inspector')}</dt>
              <dd>{session.inspector}</dd>
            </div>
            <div>
              <dt>{t('session.started')}</dt>
              <dd title={session.started_at}>{clockTime(session.started_at, i18n.language)}</dd>
            </div>
          </dl>
          <div className="insp-counts" data-testid="session-counts">
            <div className="insp-count ok">
              <span>OK</span>
              <strong data-testid="count-ok">{stored.ok}</strong>
            </div>
            <div className="insp-count ng">
              <span>NG</span>
              <strong data-testid="count-ng">{stored.ng}</strong>
            </div>
            <div className="insp-count total">
              <span>{t('session.total')}</span>
              <strong>{stored.ok + stored.ng}</strong>
            </div>
          </div>
        </section>
        <RecentRecords records={records} product={product} imageBase={edgeBase} error={recordsError} />
        <ShortcutLegend mode={mode === 'busy' ? (capture ? (ngOpen ? 'ng' : 'review') : 'live') : mode} />
      </aside>
    </div>
  );
}
