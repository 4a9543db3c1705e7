// One execution: header with status and timings, the per-node timeline, the
// result image with its detections, updating live while it runs.
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { Link, useParams } from 'react-router';
import { useTranslation } from 'react-i18next';
import { cloud, unwrap, type CloudSchemas } from '../../api/client';
import { useServices } from '../../app/context';
import { useSession } from '../../app/session';
import { Badge, Card, ErrorBanner, Loading, Modal, PageHeader, Spinner, StatusBadge } from '../../components/ui';
import { formatDateTime } from '../../lib/format';
import { useAsync } from '../../lib/useAsync';
import { DetectionOverlay } from './DetectionOverlay';
import { useNow } from './hooks';
import { executionDuration, formatElapsed, isTerminal } from './format';
import { applyMessage } from './live';
import { NodeTimeline, useUnits } from './NodeTimeline';
import { classColor } from './overlay';
import { fileURL, pickResult } from './result';
import './executions.css';

type Execution = CloudSchemas['Execution'];
type Detection = CloudSchemas['Detection'];

function Fact({ label, children }: { label: string; children: React.ReactNode }) {
  return (
    <div className="fact">
      <div className="fact-label">{label}</div>
      <div className="fact-value">{children}</div>
    </div>
  );
}

export function DetectionsTable({ detections, highlighted, onHighlight }: { detections: Detection[]; highlighted: number | null; onHighlight: (i: number | null) => void }) {
  const { t } = useTranslation('executions');
  return (
    <table className="table det-table" data-testid="detections-table">
      <thead>
        <tr>
          <th>#</th>
          <th>{t('detail.label')}</th>
          <th>{t('detail.score')}</th>
          <th>{t('detail.box')}</th>
        </tr>
      </thead>
      <tbody>
        {detections.map((d, i) => (
          <tr key={i} className={i === highlighted ? 'selected' : ''} data-testid="detection-row" onMouseEnter={() => onHighlight(i)} onMouseLeave={() => onHighlight(null)}>
            <td className="muted">{i + 1}</td>
            <td>
              <span className="swatch" style={{ background: classColor(d.class_id, d.label) }} />
              <strong>{d.label}</strong>
            </td>
            <td>
              <span className="score">
                <span className="score-bar">
                  <span style={{ width: `${Math.max(0, Math.min(1, d.score)) * 100}%` }} />
                </span>
                <span className="mono">{d.score.toFixed(3)}</span>
              </span>
            </td>
            <td className="mono small">
              {Math.round(d.box.x)}, {Math.round(d.box.y)}, {Math.round(d.box.w)} × {Math.round(d.box.h)}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function ExecutionDetailPage() {
  const { id = '' } = useParams();
  const { t } = useTranslation('executions');
  const units = useUnits();
  const { socket } = useServices();
  const { can } = useSession();
  const [exec, setExec] = useState<Execution>();
  const [error, setError] = useState<unknown>(null);
  const [confirmCancel, setConfirmCancel] = useState(false);
  const [cancelling, setCancelling] = useState(false);
  const [view, setView] = useState<'result' | 'input'>('result');
  const [showBoxes, setShowBoxes] = useState(true);
  const [highlighted, setHighlighted] = useState<number | null>(null);
  const expiredURLs = useRef(new Set<string>());

  const load = useCallback(() => {
    unwrap(cloud.GET('/api/v1/executions/{id}', { params: { path: { id } } })).then(
      (e) => {
        setExec(e);
        setError(null);
      },
      (e: unknown) => setError(e),
    );
  }, [id]);
  useEffect(() => {
    setExec(undefined);
    load();
  }, [load]);

  const pipelineId = exec?.pipeline_id;
  const version = exec?.pipeline_version;
  const pipeline = useAsync(
    async () => {
      if (!pipelineId) return undefined;
      const p = await unwrap(cloud.GET('/api/v1/pipelines/{id}', { params: { path: { id: pipelineId }, query: { version } } }));
      // The route also speaks YAML (a bare definition); as JSON it is a Pipeline.
      return 'definition' in p ? p : undefined;
    },
    [pipelineId, version],
  );

  // Follow the run while it goes: the socket's state message brings it up to
  // date, progress events move it on, and a refetch settles the final state.
  const live = !!exec && !isTerminal(exec.status);
  useEffect(() => {
    if (!live) return;
    const unsub = socket.subscribe(id, (msg) =>
      setExec((e) => {
        if (!e) return e;
        const next = applyMessage(e, msg);
        if (isTerminal(next.status) && !isTerminal(e.status)) window.setTimeout(load, 200);
        return next;
      }),
    );
    const poll = window.setInterval(load, 4000);
    return () => {
      unsub();
      window.clearInterval(poll);
    };
  }, [live, id, socket, load]);
  const now = useNow(live, 250);

  const def = pipeline.data?.definition;
  const parts = useMemo(() => Object.fromEntries((def?.nodes ?? []).map((n) => [n.id, n.part])), [def]);
  const pick = useMemo(() => (exec ? pickResult(exec, def) : undefined), [exec, def]);

  const cancel = async () => {
    setCancelling(true);
    try {
      setExec(await unwrap(cloud.POST('/api/v1/executions/{id}/cancel', { params: { path: { id } } })));
      setConfirmCancel(false);
    } catch (e) {
      setError(e);
      setConfirmCancel(false);
    } finally {
      setCancelling(false);
    }
  };

  if (!exec) {
    return (
      <div className="page">
        <div className="crumbs">
          <Link to="/executions">← {t('detail.back')}</Link>
        </div>
        {error ? <ErrorBanner error={error} onRetry={load} /> : <Loading />}
      </div>
    );
  }

  const pipelineName = pipeline.data?.name || def?.name || t('unknownPipeline');
  const failedNodes = exec.nodes.filter((n) => n.status === 'failed');
  const resultSrc = fileURL(pick?.imageNode?.outputs);
  const inputSrc = exec.inputs[0] ? fileURL({ file_id: exec.inputs[0] }) : null;
  const detections = pick?.detections ?? [];
  const showingResult = view === 'result';

  return (
    <div className="page exec-detail">
      <div className="crumbs">
        <Link to="/executions">← {t('detail.back')}</Link>
        <span className="muted">/</span>
        <span className="mono muted">{exec.execution_id}</span>
      </div>
      <PageHeader
        title={
          <span className="row">
            {t('detail.title', { pipeline: pipelineName })}
            <Badge>{t('version', { version: exec.pipeline_version })}</Badge>
            <StatusBadge status={exec.status} />
            {live && (
              <span className="live-pill" data-testid="live">
                <span className="live-dot" /> {t('detail.following')}
              </span>
            )}
          </span>
        }
        actions={
          live && can('executions:cancel') ? (
            <button className="btn btn-danger" onClick={() => setConfirmCancel(true)} data-testid="cancel-execution">
              {t('detail.cancel')}
            </button>
          ) : undefined
        }
      />

      <ErrorBanner error={error} onRetry={load} />

      <Card className="facts-card">
        <div className="facts">
          <Fact label={t('detail.created')}>{formatDateTime(exec.created_at)}</Fact>
          <Fact label={t('detail.started')}>{formatDateTime(exec.started_at)}</Fact>
          <Fact label={t('detail.finished')}>{formatDateTime(exec.finished_at)}</Fact>
          <Fact label={t('detail.duration')}>
            <span className="mono" data-testid="execution-duration">
              {formatElapsed(executionDuration(exec, now), units)}
            </span>
          </Fact>
          <Fact label={t('detail.createdBy')}>{exec.created_by || exec.client_id || '—'}</Fact>
          <Fact label={t('detail.inputs')}>{exec.inputs.length}</Fact>
          {exec.correlation_id && <Fact label={t('detail.correlation')}>{<span className="mono">{exec.correlation_id}</span>}</Fact>}
        </div>
      </Card>

      {(exec.error || failedNodes.length > 0) && (
        <div className="banner banner-error exec-error" role="alert" data-testid="execution-error">
          <div>
            <strong>{t('detail.failedTitle')}</strong>
            {failedNodes.length > 0 ? (
              failedNodes.map((n) => (
                <div key={n.node_id} className="exec-error-line">
                  <span className="mono">{n.node_id}</span> — {n.error || t('detail.noMessage')}
                </div>
              ))
            ) : (
              <div className="exec-error-line">{exec.error}</div>
            )}
          </div>
        </div>
      )}

      <Card title={t('detail.timeline')} actions={<span className="muted small">{t('detail.timelineHint')}</span>}>
        <NodeTimeline execution={exec} parts={parts} now={now} />
      </Card>

      <div className="result-grid">
        <Card
          className="result-card"
          title={t('detail.result')}
          actions={
            <div className="row">
              <div className="seg" role="tablist">
                <button role="tab" aria-selected={showingResult} className={showingResult ? 'on' : ''} onClick={() => setView('result')}>
                  {t('detail.viewResult')}
                </button>
                <button role="tab" aria-selected={!showingResult} className={!showingResult ? 'on' : ''} onClick={() => setView('input')} disabled={!inputSrc}>
                  {t('detail.viewInput')}
                </button>
              </div>
              <label className="row small check">
                <input type="checkbox" checked={showBoxes} onChange={(e) => setShowBoxes(e.target.checked)} disabled={!showingResult} />
                {t('detail.boxes')}
              </label>
            </div>
          }
        >
          <div className={`result-stage${!showingResult || resultSrc || live ? '' : ' result-stage-empty'}`}>
            {showingResult ? (
              resultSrc ? (
                <DetectionOverlay
                  key={resultSrc}
                  testId="result-image"
                  src={resultSrc}
                  alt={t('detail.resultAlt', { node: pick?.imageNode?.node_id ?? '' })}
                  detections={pick?.imageNode === pick?.detectionNode ? detections : []}
                  showBoxes={showBoxes}
                  labels={pick?.annotatedByServer ? 'highlighted' : 'all'}
                  highlighted={highlighted}
                  onHighlight={setHighlighted}
                  onImageError={() => {
                    // Signed download URLs expire after a while: fetch the execution again for a fresh one (once per URL).
                    if (!resultSrc.includes('sig=') || expiredURLs.current.has(resultSrc)) return;
                    expiredURLs.current.add(resultSrc);
                    load();
                  }}
                />
              ) : (
                <div className={`result-empty${live ? '' : ' result-empty-light'}`}>{live ? <><Spinner /> {t('detail.noResultYet')}</> : t('detail.noImage')}</div>
              )
            ) : (
              <DetectionOverlay key={inputSrc} testId="input-image" src={inputSrc} alt={t('detail.inputAlt')} detections={[]} />
            )}
          </div>
          {showingResult && pick?.imageNode && <div className="muted small result-caption">{t('detail.fromNode', { node: pick.imageNode.node_id })}</div>}
        </Card>

        <Card
          className="detections-card"
          title={t('detail.detections')}
          actions={pick?.detectionNode ? <Badge tone={detections.length ? 'warn' : 'ok'}>{t('detail.detectionsCount', { count: detections.length })}</Badge> : undefined}
        >
          {!pick?.detectionNode ? (
            <div className="empty small">{live ? t('detail.noDetectionsYet') : t('detail.noDetector')}</div>
          ) : detections.length === 0 ? (
            <div className="empty small">{t('detail.noDetections')}</div>
          ) : (
            <DetectionsTable detections={detections} highlighted={highlighted} onHighlight={setHighlighted} />
          )}
        </Card>
      </div>

      {confirmCancel && (
        <Modal
          title={t('detail.cancelTitle')}
          onClose={() => setConfirmCancel(false)}
          footer={
            <>
              <button className="btn" onClick={() => setConfirmCancel(false)}>
                {t('detail.keepRunning')}
              </button>
              <button className="btn btn-danger" onClick={cancel} disabled={cancelling} data-testid="confirm-cancel">
                {cancelling ? t('detail.cancelling') : t('detail.cancel')}
              </button>
            </>
          }
        >
          <p style={{ margin: 0 }}>{t('detail.cancelBody')}</p>
        </Modal>
      )}
    </div>
  );
}
