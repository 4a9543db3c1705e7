// The pipeline canvas: palette, React Flow graph with typed ports validated
// as the user drags, a side panel (node properties, run, versions), save as
// a new version, import/export YAML.
import {
  Background, BackgroundVariant, Controls, MiniMap, ReactFlow, ReactFlowProvider, applyEdgeChanges, applyNodeChanges, useReactFlow,
  type Connection, type Edge, type EdgeChange, type IsValidConnection, type NodeChange,
} from '@xyflow/react';
import '@xyflow/react/dist/style.css';
import { useCallback, useEffect, useMemo, useRef, useState, type DragEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useNavigate, useParams, useSearchParams } from 'react-router';
import { ApiError, authedFetch, cloud, unwrap, type CloudSchemas } from '../../api/client';
import { useSession } from '../../app/session';
import { Badge, ErrorBanner, Loading } from '../../components/ui';
import { useAsync } from '../../lib/useAsync';
import { EditorContext, type EditorCtx } from './editorContext';
import {
  autoLayout, checkNodeId, findCycles, fromDefinition, inHandle, nextNodeId, outHandle, toDefinition, validateConnection, validateDefinition,
  type Definition, type Graph, type GraphEdge, type Part, type PartMap, type PortType, type Problem, type XY,
} from './graph';
import { ImportModal } from './ImportModal';
import { hasUnsavedChanges, LeaveGuard } from './leaveGuard';
import { PART_MIME, Palette } from './Palette';
import { nodeTypes, type PartFlowNode } from './PartNode';
import { validateParams } from './params';
import { fromServer, place } from './problems';
import { NodePanel } from './NodePanel';
import { ProblemList } from './ProblemList';
import { RunPanel } from './RunPanel';
import { DecorationStore } from './store';
import { VersionsPanel } from './VersionsPanel';
import { definitionToYAML } from './yamlio';
import './pipelines.css';

type Pipeline = CloudSchemas['Pipeline'];
type FlowEdge = Edge<{ type: PortType }>;
type Tab = 'properties' | 'run' | 'versions';

const POS_KEY = (id: string) => `ifc.canvas.${id}`;

function loadPositions(id: string | undefined): Record<string, XY> {
  if (!id) return {};
  try {
    return JSON.parse(localStorage.getItem(POS_KEY(id)) ?? '{}') as Record<string, XY>;
  } catch {
    return {};
  }
}

function savePositions(id: string, nodes: readonly PartFlowNode[]): void {
  try {
    localStorage.setItem(POS_KEY(id), JSON.stringify(Object.fromEntries(nodes.map((n) => [n.id, n.position]))));
  } catch {
    /* storage full or disabled: positions are a convenience */
  }
}

function toFlowEdge(e: GraphEdge): FlowEdge {
  return {
    id: `${e.from}->${e.to}:${e.type}`,
    source: e.from,
    target: e.to,
    sourceHandle: outHandle(e.type),
    targetHandle: inHandle(e.type),
    data: { type: e.type },
    className: `edge-${e.type}`,
  };
}

/** toFlow lays a graph out: remembered positions when every node has one, else by topological depth. */
function toFlow(g: Graph, remembered: Record<string, XY>): { nodes: PartFlowNode[]; edges: FlowEdge[] } {
  const all = g.nodes.every((n) => remembered[n.id]);
  const laid = all ? null : autoLayout(g.nodes.map((n) => n.id), g.edges);
  return {
    nodes: g.nodes.map((n) => ({
      id: n.id,
      type: 'part',
      position: (all ? remembered[n.id] : laid?.get(n.id)) ?? { x: 0, y: 0 },
      data: { part: n.part, params: n.params },
    })),
    edges: g.edges.map(toFlowEdge),
  };
}

/** useStable returns the previous array while its elements are the same objects. */
function useStable<T>(next: T[]): T[] {
  const ref = useRef(next);
  const prev = ref.current;
  if (prev.length !== next.length || prev.some((x, i) => x !== next[i])) ref.current = next;
  return ref.current;
}

export function PipelineEditorPage() {
  const { id } = useParams();
  const [search] = useSearchParams();
  const version = Number(search.get('version')) || 0;
  const { t } = useTranslation('pipelines');
  const parts = useAsync(() => unwrap(cloud.GET('/api/v1/parts')).then((r) => r.parts), []);
  const pipeline = useAsync<Pipeline | null>(
    () => (id ? unwrap(cloud.GET('/api/v1/pipelines/{id}', { params: { path: { id }, query: version ? { version } : {} } })).then((p) => p as Pipeline) : Promise.resolve(null)),
    [id, version],
  );
  if (parts.error || pipeline.error) {
    return (
      <div className="page">
        <ErrorBanner error={parts.error || pipeline.error} onRetry={() => (parts.reload(), pipeline.reload())} />
        <p>
          <Link to="/pipelines">← {t('editor.back')}</Link>
        </p>
      </div>
    );
  }
  if (!parts.data || pipeline.data === undefined || (pipeline.loading && !pipeline.data && id)) return <Loading />;
  return (
    <ReactFlowProvider key={`${id ?? 'new'}:${version}`}>
      <Editor parts={parts.data} initial={pipeline.data} viewVersion={version} />
    </ReactFlowProvider>
  );
}

function Editor({ parts, initial, viewVersion }: { parts: Part[]; initial: Pipeline | null; viewVersion: number }) {
  const { t } = useTranslation('pipelines');
  const navigate = useNavigate();
  const { can } = useSession();
  const flow = useReactFlow<PartFlowNode, FlowEdge>();
  const partMap: PartMap = useMemo(() => new Map(parts.map((p) => [p.id, p])), [parts]);
  const ctx = useMemo<EditorCtx>(() => ({ parts: partMap, decorations: new DecorationStore() }), [partMap]);
  const decorations = ctx.decorations;

  const start = useMemo(() => {
    const g: Graph = initial ? fromDefinition(initial.definition, partMap) : { name: '', nodes: [], edges: [] };
    return { graph: g, ...toFlow(g, loadPositions(initial?.id)) };
  }, [initial, partMap]);
  const [nodes, setNodes] = useState<PartFlowNode[]>(start.nodes);
  const [edges, setEdges] = useState<FlowEdge[]>(start.edges);
  const [name, setName] = useState(start.graph.name);
  const [saved, setSaved] = useState<{ id: string; version: number; json: string } | null>(
    initial ? { id: initial.id, version: initial.version, json: JSON.stringify(toDefinition(start.graph)) } : null,
  );
  const [readOnly, setReadOnly] = useState(viewVersion > 0 || !can('pipelines:write'));
  const [tab, setTab] = useState<Tab>('properties');
  const [serverProblems, setServerProblems] = useState<Problem[]>([]);
  const [saveError, setSaveError] = useState<unknown>(null);
  const [saving, setSaving] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);
  const [refusal, setRefusal] = useState<{ code: string; args?: Record<string, string | number> } | null>(null);
  const [connecting, setConnecting] = useState(false);
  const [importing, setImporting] = useState(false);
  const [showProblems, setShowProblems] = useState(false);

  // The definition, recomputed only when a node's data, the edges or the name change (not on drag).
  const ids = useStable(nodes.map((n) => n.id));
  const datas = useStable(nodes.map((n) => n.data));
  const graph = useMemo<Graph>(
    () => ({
      name,
      nodes: ids.map((id, i) => ({ id, part: datas[i]!.part, params: datas[i]!.params })),
      edges: edges.map((e) => ({ from: e.source, to: e.target, type: e.data?.type ?? 'image' })),
    }),
    [name, ids, datas, edges],
  );
  const def = useMemo(() => toDefinition(graph), [graph]);
  const defJSON = useMemo(() => JSON.stringify(def), [def]);
  const dirty = !saved || saved.json !== defJSON;
  // Leaving with unsaved changes asks first; the navigation after saving a new pipeline does not.
  const unsaved = hasUnsavedChanges({ savedJSON: saved?.json ?? null, currentJSON: defJSON, readOnly, empty: nodes.length === 0 && !name.trim() });
  const leaving = useRef(false);
  const allowLeave = useCallback(() => leaving.current, []);
  const clientProblems = useMemo(() => (graph.nodes.length ? validateDefinition(def, partMap, validateParams) : []), [def, partMap, graph.nodes.length]);
  const problems = serverProblems.length ? [...serverProblems, ...clientProblems] : clientProblems;

  // Edits invalidate what the server said about the previous attempt.
  const lastJSON = useRef(defJSON);
  useEffect(() => {
    if (lastJSON.current !== defJSON) {
      lastJSON.current = defJSON;
      setServerProblems([]);
      setSaveError(null);
      setNotice(null);
    }
  }, [defJSON]);

  // Decorations: problems per node, and which nodes take the input image.
  useEffect(() => {
    decorations.setAll('problems', place(problems, ids).byNode);
  }, [problems, ids, decorations]);
  useEffect(() => {
    const fed = new Set(graph.edges.map((e) => e.to));
    decorations.setAll('root', new Map(ids.filter((id) => !fed.has(id)).map((id) => [id, true])));
  }, [graph.edges, ids, decorations]);

  // Edges on a cycle are drawn red.
  const cycleEdges = useMemo(() => {
    const s = new Set<string>();
    for (const c of findCycles(ids, graph.edges)) c.forEach((id, i) => s.add(`${id}\u0000${c[(i + 1) % c.length]}`));
    return s;
  }, [ids, graph.edges]);
  const shownEdges = useMemo(
    () => (cycleEdges.size ? edges.map((e) => (cycleEdges.has(`${e.source}\u0000${e.target}`) ? { ...e, className: `${e.className ?? ''} edge-bad`, animated: true } : e)) : edges),
    [edges, cycleEdges],
  );

  const latest = useRef({ nodes, edges });
  latest.current = { nodes, edges };

  const onNodesChange = useCallback((changes: NodeChange<PartFlowNode>[]) => {
    setNodes((ns) => applyNodeChanges(changes, ns));
  }, []);
  const onEdgesChange = useCallback((changes: EdgeChange<FlowEdge>[]) => setEdges((es) => applyEdgeChanges(changes, es)), []);

  const currentEdges = () => latest.current.edges.map((e) => ({ from: e.source, to: e.target, type: e.data?.type ?? ('image' as PortType) }));
  const currentNodes = () => latest.current.nodes.map((n) => ({ id: n.id, part: n.data.part }));
  const lastRefusal = useRef<string | null>(null);
  const isValidConnection: IsValidConnection<FlowEdge> = useCallback(
    (c) => {
      const v = validateConnection(currentNodes(), currentEdges(), partMap, c);
      const key = v.ok ? null : JSON.stringify(v);
      if (key !== lastRefusal.current) {
        lastRefusal.current = key;
        setRefusal(v.ok ? null : { code: v.code, args: v.args });
      }
      return v.ok;
    },
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [partMap],
  );
  const onConnect = useCallback(
    (c: Connection) => {
      const v = validateConnection(currentNodes(), currentEdges(), partMap, c);
      if (!v.ok) return;
      setEdges((es) => [...es, toFlowEdge({ from: c.source, to: c.target, type: v.type })]);
    },
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [partMap],
  );
  const onConnectStart = useCallback(() => {
    lastRefusal.current = null;
    setRefusal(null);
    setConnecting(true);
  }, []);
  const onConnectEnd = useCallback(() => {
    setConnecting(false);
    // Keep the last refusal visible a moment after the drop, so the user sees why.
    window.setTimeout(() => {
      lastRefusal.current = null;
      setRefusal(null);
    }, 2500);
  }, []);

  const addNode = useCallback(
    (partId: string, at?: XY) => {
      const part = partMap.get(partId);
      if (!part) return;
      const wrapper = document.querySelector('.canvas-wrap')?.getBoundingClientRect();
      const pos = at ?? flow.screenToFlowPosition({ x: (wrapper?.left ?? 0) + (wrapper?.width ?? 600) / 2, y: (wrapper?.top ?? 0) + (wrapper?.height ?? 400) / 2 });
      setNodes((ns) => {
        const id = nextNodeId(part.id, new Set(ns.map((n) => n.id)));
        return [...ns.map((n) => (n.selected ? { ...n, selected: false } : n)), { id, type: 'part', position: { x: pos.x - 100, y: pos.y - 30 }, data: { part: part.id, params: {} }, selected: true }];
      });
      setTab('properties');
    },
    [flow, partMap],
  );
  const onDragOver = useCallback((e: DragEvent) => {
    if (!e.dataTransfer.types.includes(PART_MIME)) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = 'move';
  }, []);
  const onDrop = useCallback(
    (e: DragEvent) => {
      const partId = e.dataTransfer.getData(PART_MIME);
      if (!partId || readOnly) return;
      e.preventDefault();
      addNode(partId, flow.screenToFlowPosition({ x: e.clientX, y: e.clientY }));
    },
    [addNode, flow, readOnly],
  );

  const selected = nodes.find((n) => n.selected) ?? null;
  const selectedId = selected?.id ?? null;
  const selectedData = selected?.data ?? null;

  const updateParams = useCallback((nodeId: string, params: Record<string, unknown>) => {
    setNodes((ns) => ns.map((n) => (n.id === nodeId ? { ...n, data: { ...n.data, params } } : n)));
  }, []);
  const renameNode = useCallback((from: string, to: string): string | null => {
    const err = checkNodeId(to, latest.current.nodes.filter((n) => n.id !== from).map((n) => n.id));
    if (err) return err;
    setNodes((ns) => ns.map((n) => (n.id === from ? { ...n, id: to } : n)));
    setEdges((es) =>
      es.map((e) => (e.source === from || e.target === from ? toFlowEdge({ from: e.source === from ? to : e.source, to: e.target === from ? to : e.target, type: e.data?.type ?? 'image' }) : e)),
    );
    return null;
  }, []);
  const deleteNode = useCallback((nodeId: string) => {
    setNodes((ns) => ns.filter((n) => n.id !== nodeId));
    setEdges((es) => es.filter((e) => e.source !== nodeId && e.target !== nodeId));
  }, []);
  const selectNode = useCallback((nodeId: string) => {
    setNodes((ns) => ns.map((n) => (n.selected !== (n.id === nodeId) ? { ...n, selected: n.id === nodeId } : n)));
    setTab('properties');
    const n = latest.current.nodes.find((x) => x.id === nodeId);
    if (n) void flow.setCenter(n.position.x + 100, n.position.y + 50, { duration: 300, zoom: flow.getZoom() });
  }, [flow]);

  const relayout = useCallback(() => {
    const pos = autoLayout(ids, graph.edges);
    setNodes((ns) => ns.map((n) => ({ ...n, position: pos.get(n.id) ?? n.position })));
    window.setTimeout(() => void flow.fitView({ padding: 0.2, duration: 300 }), 30);
  }, [ids, graph.edges, flow]);

  const replaceGraph = useCallback(
    (d: Definition) => {
      const g = fromDefinition(d, partMap);
      const f = toFlow(g, {});
      setNodes(f.nodes);
      setEdges(f.edges);
      if (g.name) setName(g.name);
      setImporting(false);
      setShowProblems(true);
      window.setTimeout(() => void flow.fitView({ padding: 0.2 }), 50);
    },
    [partMap, flow],
  );

  const save = useCallback(async () => {
    setShowProblems(true);
    if (clientProblems.length || readOnly) return;
    setSaving(true);
    setSaveError(null);
    try {
      const body = def;
      const p = saved
        ? await unwrap(cloud.POST('/api/v1/pipelines/{id}/versions', { params: { path: { id: saved.id } }, body }))
        : await unwrap(cloud.POST('/api/v1/pipelines', { body }));
      savePositions(p.id, latest.current.nodes);
      setServerProblems([]);
      if (!saved || viewVersion) {
        leaving.current = true;
        navigate(`/pipelines/${p.id}`, { replace: true });
        return;
      }
      setSaved({ id: p.id, version: p.version, json: JSON.stringify(toDefinition(fromDefinition(p.definition, partMap))) });
      setNotice(t('editor.saved', { version: p.version }));
    } catch (e) {
      if (e instanceof ApiError && e.problem?.problems?.length) setServerProblems(fromServer(e.problem, def));
      else setSaveError(e);
    } finally {
      setSaving(false);
    }
  }, [clientProblems.length, readOnly, def, saved, viewVersion, navigate, partMap, t]);

  const exportYAML = useCallback(async () => {
    let text: string;
    if (saved && !dirty) {
      const res = await authedFetch(`/api/v1/pipelines/${encodeURIComponent(saved.id)}?version=${saved.version}`, { headers: { Accept: 'application/yaml' } });
      text = res.ok ? await res.text() : definitionToYAML(def);
    } else {
      text = definitionToYAML(def);
    }
    const url = URL.createObjectURL(new Blob([text], { type: 'application/yaml' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = `${(name || 'pipeline').replace(/[^\w-]+/g, '_')}${saved && !dirty ? `-v${saved.version}` : ''}.yaml`;
    a.click();
    window.setTimeout(() => URL.revokeObjectURL(url), 1000);
  }, [saved, dirty, def, name]);

  // Ctrl/Cmd+S saves.
  const saveRef = useRef(save);
  saveRef.current = save;
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === 's') {
        e.preventDefault();
        void saveRef.current();
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);

  const selectedServerErrors = useMemo(() => {
    if (!selectedId) return undefined;
    const m: Record<string, string> = {};
    for (const p of serverProblems) {
      const param = p.node === selectedId && p.field ? /\.params\.(.+)$/.exec(p.field)?.[1] : undefined;
      if (param && p.message) m[param] = p.message;
    }
    return m;
  }, [serverProblems, selectedId]);

  const blocked = clientProblems.length > 0;
  const hasNodes = nodes.length > 0;

  return (
    <EditorContext.Provider value={ctx}>
      <div className="editor" data-testid="pipeline-editor">
        <LeaveGuard when={unsaved} message={t('editor.leaveConfirm')} allow={allowLeave} />
        <header className="editor-bar">
          <Link to="/pipelines" className="btn btn-ghost btn-sm">
            ← {t('editor.back')}
          </Link>
          <input
            className="input name-input"
            aria-label={t('editor.name')}
            placeholder={t('editor.untitled')}
            value={name}
            disabled={readOnly}
            onChange={(e) => setName(e.target.value)}
          />
          {saved ? <Badge tone="info">{t('editor.version', { version: viewVersion || saved.version })}</Badge> : <Badge>{t('editor.new')}</Badge>}
          {dirty && !readOnly && hasNodes && (
            <span className="unsaved" data-testid="unsaved">
              ● {t('editor.unsaved')}
            </span>
          )}
          {notice && !dirty && (
            <span className="saved-note" role="status">
              ✓ {notice}
            </span>
          )}
          <span className="muted small">{t('editor.nodesEdges', { nodes: nodes.length, edges: edges.length })}</span>
          <span className="spacer" />
          <button className="btn btn-sm" onClick={relayout} disabled={!hasNodes || readOnly}>
            {t('editor.layout')}
          </button>
          <button className="btn btn-sm" onClick={() => setImporting(true)} disabled={readOnly}>
            {t('editor.import')}
          </button>
          <button className="btn btn-sm" onClick={() => void exportYAML()} disabled={!hasNodes}>
            {t('editor.export')}
          </button>
          {!readOnly && (
            <button
              className="btn btn-primary"
              data-testid="save"
              onClick={() => void save()}
              disabled={saving || blocked || (!dirty && !!saved)}
              title={blocked ? t('problems.count', { count: clientProblems.length }) : undefined}
            >
              {saving ? t('editor.saving') : saved ? t('editor.saveNew') : t('editor.save')}
            </button>
          )}
        </header>
        {readOnly && viewVersion > 0 && saved && (
          <div className="banner banner-info editor-banner" data-testid="readonly-banner">
            <span>{t('editor.readOnly', { version: viewVersion })}</span>
            <span className="spacer" />
            <Link className="btn btn-sm" to={`/pipelines/${saved.id}`}>
              {t('editor.backToLatest')}
            </Link>
            {can('pipelines:write') && (
              <button className="btn btn-sm" onClick={() => setReadOnly(false)}>
                {t('editor.editFromHere')}
              </button>
            )}
          </div>
        )}
        <div className="editor-body">
          <Palette parts={parts} onAdd={addNode} disabled={readOnly} />
          <div className="canvas-wrap" onDragOver={onDragOver} onDrop={onDrop} data-testid="canvas">
            <ReactFlow<PartFlowNode, FlowEdge>
              nodes={nodes}
              edges={shownEdges}
              nodeTypes={nodeTypes}
              onNodesChange={onNodesChange}
              onEdgesChange={readOnly ? undefined : onEdgesChange}
              onConnect={onConnect}
              onConnectStart={onConnectStart}
              onConnectEnd={onConnectEnd}
              isValidConnection={isValidConnection}
              onNodeDragStop={() => saved && savePositions(saved.id, latest.current.nodes)}
              nodesDraggable
              nodesConnectable={!readOnly}
              deleteKeyCode={readOnly ? null : ['Backspace', 'Delete']}
              connectionRadius={28}
              fitView={start.nodes.length > 0}
              fitViewOptions={{ padding: 0.25, maxZoom: 1.1 }}
              minZoom={0.2}
              maxZoom={2}
              proOptions={{ hideAttribution: true }}
              defaultEdgeOptions={{ type: 'default' }}
            >
              <Background variant={BackgroundVariant.Dots} gap={18} size={1.2} color="#c9d2df" />
              <Controls showInteractive={false} />
              <MiniMap pannable zoomable nodeStrokeWidth={3} className="minimap" />
            </ReactFlow>
            {!hasNodes && <div className="canvas-empty">{t('editor.emptyCanvas')}</div>}
            {connecting && !refusal && <div className="connect-hint">{t('connect.hint')}</div>}
            {refusal && (
              <div className="connect-refused" role="alert" data-testid="connect-refused" data-code={refusal.code}>
                <strong>{t('connect.refused')}</strong> {t(`connect.${refusal.code}`, refusal.args)}
              </div>
            )}
            {hasNodes && (problems.length > 0 || saveError !== null) && (showProblems || serverProblems.length > 0 || problems.some((p) => p.code === 'cycle')) && (
              <div className="problems-dock" data-testid="problems">
                {saveError !== null && <ErrorBanner error={saveError} />}
                {problems.length > 0 && (
                  <ProblemList title={serverProblems.length ? t('problems.serverTitle') : t('problems.title')} problems={problems} onSelect={selectNode} />
                )}
              </div>
            )}
            {hasNodes && problems.length > 0 && !showProblems && !serverProblems.length && !problems.some((p) => p.code === 'cycle') && (
              <button className="problems-pill" onClick={() => setShowProblems(true)} data-testid="problems-pill">
                ⚠ {t('problems.count', { count: problems.length })}
              </button>
            )}
          </div>
          <aside className="side">
            <div className="tabs" role="tablist">
              {(['properties', 'run', 'versions'] as Tab[]).map((k) => (
                <button key={k} role="tab" aria-selected={tab === k} className={`tab${tab === k ? ' active' : ''}`} onClick={() => setTab(k)}>
                  {t(`tabs.${k}`)}
                </button>
              ))}
            </div>
            <div className="side-body">
              {tab === 'properties' && (
                <NodePanel
                  key={selectedId ?? ''}
                  nodeId={selectedId}
                  data={selectedData}
                  readOnly={readOnly}
                  problems={selectedId ? problems.filter((p) => p.node === selectedId) : []}
                  serverErrors={selectedServerErrors}
                  onParams={updateParams}
                  onRename={renameNode}
                  onDelete={deleteNode}
                />
              )}
              <div hidden={tab !== 'run'}>
                <RunPanel saved={saved ? { id: saved.id, version: viewVersion || saved.version } : null} dirty={dirty && !readOnly} nodeIds={ids} edges={graph.edges} />
              </div>
              {tab === 'versions' && <VersionsPanel pipelineId={saved?.id ?? null} current={viewVersion || saved?.version || 0} />}
            </div>
          </aside>
        </div>
        {importing && <ImportModal parts={partMap} onClose={() => setImporting(false)} onApply={replaceGraph} />}
      </div>
    </EditorContext.Provider>
  );
}
