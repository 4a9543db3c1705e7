// RunPanel runs the saved pipeline on an uploaded or recent image and
// follows the execution over the WebSocket: every node on the canvas shows
// queued/running/done/failed with timing and a thumbnail of its output; at
// the end the annotated result, its detections and a link to the detail.
import { useCallback, useEffect, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import { authedFetch, cloud, unwrap, type CloudSchemas, type Problem as ServerProblem, ApiError } from '../../api/client';
import type { ProgressMessage, StateMessage } from '../../api/ws';
import { useServices } from '../../app/context';
import { AuthedImage, ErrorBanner, StatusBadge } from '../../components/ui';
import { durationBetween, formatDuration } from '../../lib/format';
import { fileURL, useEditor } from './editorContext';
import type { GraphEdge } from './graph';
import type { NodeStatus } from './store';

type Execution = CloudSchemas['Execution'];
type FileMeta = CloudSchemas['File'];
interface Recent {
  file_id: string;
  name: string;
  width?: number;
  height?: number;
}

const RECENT_KEY = 'ifc.recentFiles';
const TERMINAL = new Set(['succeeded', 'failed', 'cancelled']);

function loadRecent(): Recent[] {
  try {
    return (JSON.parse(localStorage.getItem(RECENT_KEY) ?? '[]') as Recent[]).slice(0, 8);
  } catch {
    return [];
  }
}
function remember(r: Recent): Recent[] {
  const next = [r, ...loadRecent().filter((x) => x.file_id !== r.file_id)].slice(0, 8);
  try {
    localStorage.setItem(RECENT_KEY, JSON.stringify(next));
  } catch {
    /* convenience only */
  }
  return next;
}
const contentURL = (id: string) => `/api/v1/files/${encodeURIComponent(id)}/content`;

interface Props {
  saved: { id: string; version: number } | null;
  dirty: boolean;
  nodeIds: readonly string[];
  edges: readonly GraphEdge[];
}

export function RunPanel({ saved, dirty, nodeIds, edges }: Props) {
  const { t } = useTranslation('pipelines');
  const { socket } = useServices();
  const { decorations } = useEditor();
  const [recent, setRecent] = useState<Recent[]>(loadRecent);
  const [fileId, setFileId] = useState<string | null>(() => loadRecent()[0]?.file_id ?? null);
  const [uploading, setUploading] = useState(false);
  const [starting, setStarting] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [exec, setExec] = useState<Execution | null>(null);
  const nodesRef = useRef(new Map<string, NodeStatus>());
  const unsub = useRef<(() => void) | null>(null);

  useEffect(() => () => unsub.current?.(), []);

  const upload = useCallback(async (f: File) => {
    setUploading(true);
    setError(null);
    try {
      const form = new FormData();
      form.append('file', f);
      const res = await authedFetch('/api/v1/files', { method: 'POST', body: form });
      if (!res.ok) {
        const problem = (await res.json().catch(() => undefined)) as ServerProblem | undefined;
        throw new ApiError(res.status, problem, `${res.status} ${res.statusText}`);
      }
      const meta = (await res.json()) as FileMeta;
      setRecent(remember({ file_id: meta.file_id, name: f.name, width: meta.width, height: meta.height }));
      setFileId(meta.file_id);
    } catch (e) {
      setError(e);
    } finally {
      setUploading(false);
    }
  }, []);

  const apply = useCallback(
    (nodeId: string, patch: Partial<NodeStatus>) => {
      const cur = nodesRef.current.get(nodeId) ?? { node_id: nodeId, status: 'queued' as const };
      const next = { ...cur, ...patch };
      nodesRef.current.set(nodeId, next);
      decorations.update(nodeId, { run: next });
    },
    [decorations],
  );

  const onMessage = useCallback(
    (msg: ProgressMessage | StateMessage) => {
      if (msg.type === 'state') {
        const e = msg.execution;
        for (const n of e.nodes) apply(n.node_id, n);
        setExec(e);
        return;
      }
      if (msg.node_id && msg.state) {
        const patch: Partial<NodeStatus> = { status: msg.state };
        if (msg.state === 'running') patch.started_at = nodesRef.current.get(msg.node_id)?.started_at ?? msg.ts;
        if (TERMINAL.has(msg.state) || msg.state === 'skipped') patch.finished_at = msg.ts;
        if (msg.outputs) patch.outputs = msg.outputs;
        if (msg.error) patch.error = msg.error;
        apply(msg.node_id, patch);
      }
      if (msg.execution_status) {
        const status = msg.execution_status;
        setExec((e) => (e ? { ...e, status, error: msg.error ?? e.error } : e));
        if (TERMINAL.has(status)) {
          // The final state from the API has every node's timing and outputs.
          void unwrap(cloud.GET('/api/v1/executions/{id}', { params: { path: { id: msg.execution_id } } })).then((e) => {
            for (const n of e.nodes) apply(n.node_id, n);
            setExec(e);
          });
        }
      }
    },
    [apply],
  );

  // Fallback when the socket is quiet: poll until the execution ends.
  useEffect(() => {
    if (!exec || TERMINAL.has(exec.status)) return;
    const id = exec.execution_id;
    const timer = window.setInterval(() => {
      void unwrap(cloud.GET('/api/v1/executions/{id}', { params: { path: { id } } })).then((e) => {
        for (const n of e.nodes) apply(n.node_id, n);
        setExec((cur) => (cur && cur.execution_id === id && !TERMINAL.has(cur.status) ? e : cur));
      }, () => undefined);
    }, 2000);
    return () => window.clearInterval(timer);
  }, [exec?.execution_id, exec?.status, apply]); // eslint-disable-line react-hooks/exhaustive-deps

  const run = useCallback(async () => {
    if (!saved || !fileId) return;
    setStarting(true);
    setError(null);
    unsub.current?.();
    nodesRef.current = new Map();
    for (const id of nodeIds) apply(id, { node_id: id, status: 'queued', started_at: undefined, finished_at: undefined, outputs: undefined, error: undefined });
    try {
      const e = await unwrap(cloud.POST('/api/v1/executions', { body: { pipeline_id: saved.id, version: saved.version, inputs: [fileId] } }));
      setExec(e);
      for (const n of e.nodes) apply(n.node_id, n);
      unsub.current = socket.subscribe(e.execution_id, onMessage);
    } catch (err) {
      setError(err);
      for (const id of nodeIds) decorations.update(id, { run: undefined });
    } finally {
      setStarting(false);
    }
  }, [saved, fileId, nodeIds, apply, socket, onMessage, decorations]);

  if (!saved) return <p className="muted panel-empty">{t('run.saveFirst')}</p>;

  const statuses = exec ? exec.nodes : [];
  const done = exec && TERMINAL.has(exec.status);
  // The result: the last node (a sink) that produced detections, else the last with an image.
  const fed = new Set(edges.map((e) => e.from));
  const ordered = [...statuses].sort((a, b) => Number(fed.has(a.node_id)) - Number(fed.has(b.node_id)));
  const final = ordered.find((n) => n.outputs?.detections) ?? ordered.find((n) => n.outputs?.file_id);
  const failed = statuses.find((n) => n.status === 'failed');
  const running = exec && !done;

  return (
    <div className="run-panel" data-testid="run-panel">
      {dirty && <div className="banner banner-warn small">{t('run.dirty', { version: saved.version })}</div>}
      <h3 className="section">{t('run.title')}</h3>
      <div className="run-picker">
        <label className={`btn btn-sm${uploading ? ' disabled' : ''}`}>
          {uploading ? t('run.uploading') : `⤒ ${t('run.upload')}`}
          <input
            type="file"
            hidden
            accept="image/png,image/jpeg"
            data-testid="run-upload"
            onChange={(e) => {
              const f = e.target.files?.[0];
              if (f) void upload(f);
              e.target.value = '';
            }}
          />
        </label>
        <span className="muted small">{t('run.recent')}</span>
        <div className="recent-grid">
          {recent.length === 0 && <span className="muted small">{t('run.noRecent')}</span>}
          {recent.map((r) => (
            <button
              key={r.file_id}
              className={`recent${r.file_id === fileId ? ' chosen' : ''}`}
              onClick={() => setFileId(r.file_id)}
              title={`${r.name}${r.width ? ` · ${r.width}×${r.height}` : ''}`}
              aria-pressed={r.file_id === fileId}
            >
              <AuthedImage src={contentURL(r.file_id)} alt={r.name} className="recent-img" />
            </button>
          ))}
        </div>
      </div>
      <button className="btn btn-primary run-btn" data-testid="run" disabled={!fileId || starting || !!running} onClick={() => void run()}>
        {starting ? t('run.starting') : running ? t('run.running') : `▶ ${t('run.start')}`}
      </button>
      {!fileId && <p className="muted small">{t('run.selectImage')}</p>}
      <ErrorBanner error={error} />
      {exec && (
        <div className="run-state" data-testid="run-state" data-status={exec.status}>
          <div className="row">
            <strong>{t('run.status')}</strong>
            <StatusBadge status={exec.status} />
            {running && <span className="live">● {t('run.live')}</span>}
            <span className="spacer" />
            {durationBetween(exec.started_at, exec.finished_at) !== null && (
              <span className="muted small">{t('run.took', { time: formatDuration(durationBetween(exec.started_at, exec.finished_at)) })}</span>
            )}
          </div>
          <ul className="run-nodes">
            {statuses.map((n) => (
              <li key={n.node_id}>
                <span className="mono">{n.node_id}</span>
                <StatusBadge status={n.status} />
                <span className="muted small mono">{formatDuration(durationBetween(n.started_at, n.finished_at))}</span>
              </li>
            ))}
          </ul>
          {failed && (
            <div className="banner banner-error small" role="alert">
              {t('run.failed', { node: failed.node_id, error: failed.error ?? exec.error ?? '' })}
            </div>
          )}
          {done && final && (
            <div className="run-result" data-testid="run-result">
              <div className="row">
                <strong>{t('run.result')}</strong>
                <span className="badge badge-info" data-testid="detection-count" data-count={final.outputs?.detections?.length ?? 0}>
                  {t('run.detections', { count: final.outputs?.detections?.length ?? 0 })}
                </span>
              </div>
              <AuthedImage src={fileURL(final.outputs as { file_id?: string; download_url?: string })} alt={t('run.result')} className="result-img" />
              {final.outputs?.detections && final.outputs.detections.length > 0 ? (
                <table className="table det-table">
                  <thead>
                    <tr>
                      <th>{t('run.label')}</th>
                      <th>{t('run.score')}</th>
                    </tr>
                  </thead>
                  <tbody>
                    {final.outputs.detections.slice(0, 6).map((d, i) => (
                      <tr key={i}>
                        <td>{d.label}</td>
                        <td className="mono">{d.score.toFixed(2)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              ) : (
                <p className="muted small">{t('run.noDetections')}</p>
              )}
            </div>
          )}
          <Link to={`/executions/${exec.execution_id}`} className="small" data-testid="execution-link">
            {t('run.openDetail')} →
          </Link>
        </div>
      )}
    </div>
  );
}
