// The execution list: filters in the URL query (shareable), newest first,
// "load more" paging, and live rows for runs that are still going.
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { Link, useNavigate, useSearchParams } from 'react-router';
import { useTranslation } from 'react-i18next';
import { cloud, unwrap, type CloudSchemas } from '../../api/client';
import { useServices } from '../../app/context';
import { Badge, Card, Empty, ErrorBanner, Loading, PageHeader, Spinner, StatusBadge } from '../../components/ui';
import { formatDateTime } from '../../lib/format';
import { useAsync } from '../../lib/useAsync';
import { executionStatuses, filtersToSearch, hasFilters, parseFilters, toQuery, type ExecutionFilters } from './filters';
import { executionDuration, formatElapsed, isTerminal, shortId } from './format';
import { applyMessage } from './live';
import { useNow } from './hooks';
import { useUnits } from './NodeTimeline';
import './executions.css';

type Execution = CloudSchemas['Execution'];
const pageSize = 50;

/** NodeStrip shows each node's status as a small segment. */
export function NodeStrip({ nodes }: { nodes: Execution['nodes'] }) {
  const { t } = useTranslation('executions');
  const done = nodes.filter((n) => n.status === 'succeeded').length;
  return (
    <span className="node-strip" title={`${done}/${nodes.length}`} aria-label={`${t('columns.nodes')} ${done}/${nodes.length}`}>
      {nodes.map((n) => (
        <span key={n.node_id} className={`node-seg seg-${n.status}`} />
      ))}
      <span className="node-strip-count">
        {done}/{nodes.length}
      </span>
    </span>
  );
}

export function ExecutionListPage() {
  const { t } = useTranslation('executions');
  const units = useUnits();
  const navigate = useNavigate();
  const { socket } = useServices();
  const [params, setParams] = useSearchParams();
  const filters = useMemo(() => parseFilters(params), [params]);
  const filterKey = filtersToSearch(filters).toString();

  const pipelines = useAsync(() => unwrap(cloud.GET('/api/v1/pipelines')), []);
  const pipelineNames = useMemo(() => new Map((pipelines.data?.pipelines ?? []).map((p) => [p.id, p.name || p.definition.name || p.id])), [pipelines.data]);

  const [items, setItems] = useState<Execution[]>([]);
  const [next, setNext] = useState<string | undefined>();
  const [loading, setLoading] = useState(true);
  const [loadingMore, setLoadingMore] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [tick, setTick] = useState(0);
  const gen = useRef(0);

  const fetchPage = useCallback(
    (pageToken?: string) => unwrap(cloud.GET('/api/v1/executions', { params: { query: { ...toQuery(parseFilters(new URLSearchParams(filterKey))), limit: pageSize, page_token: pageToken } } })),
    [filterKey],
  );

  useEffect(() => {
    const my = ++gen.current;
    setLoading(true);
    fetchPage().then(
      (page) => {
        if (my !== gen.current) return;
        setItems(page.executions);
        setNext(page.next_page_token || undefined);
        setError(null);
        setLoading(false);
      },
      (e: unknown) => {
        if (my !== gen.current) return;
        setError(e);
        setLoading(false);
      },
    );
  }, [fetchPage, tick]);

  const loadMore = async () => {
    if (!next) return;
    const my = gen.current;
    setLoadingMore(true);
    try {
      const page = await fetchPage(next);
      if (my !== gen.current) return;
      setItems((list) => {
        const seen = new Set(list.map((e) => e.execution_id));
        return [...list, ...page.executions.filter((e) => !seen.has(e.execution_id))];
      });
      setNext(page.next_page_token || undefined);
    } catch (e) {
      setError(e);
    } finally {
      setLoadingMore(false);
    }
  };

  // Live rows: follow every visible run that has not finished, over the
  // socket and, in case it is down, by refetching them every few seconds.
  const liveIds = items.filter((e) => !isTerminal(e.status)).map((e) => e.execution_id).join(',');
  useEffect(() => {
    const ids = liveIds.split(',').filter(Boolean);
    if (!ids.length) return;
    const replace = (id: string, f: (e: Execution) => Execution) => setItems((list) => list.map((e) => (e.execution_id === id ? f(e) : e)));
    const unsubs = ids.map((id) => socket.subscribe(id, (msg) => replace(id, (e) => applyMessage(e, msg))));
    const poll = window.setInterval(() => {
      for (const id of ids) {
        unwrap(cloud.GET('/api/v1/executions/{id}', { params: { path: { id } } })).then(
          (fresh) => replace(id, () => fresh),
          () => undefined,
        );
      }
    }, 5000);
    return () => {
      unsubs.forEach((u) => u());
      window.clearInterval(poll);
    };
  }, [liveIds, socket]);
  const now = useNow(liveIds !== '');

  const setFilters = (patch: Partial<ExecutionFilters>) => setParams(filtersToSearch({ ...filters, ...patch }), { replace: true });
  const filtered = hasFilters(filters);

  return (
    <div className="page executions-page">
      <PageHeader
        title={t('title')}
        subtitle={t('subtitle')}
        actions={
          <button className="btn" onClick={() => setTick((x) => x + 1)} disabled={loading}>
            ↻ {t('actions.refresh', { ns: 'common' })}
          </button>
        }
      />
      <Card className="exec-filters">
        <div className="filter-bar" role="search">
          <div className="field">
            <label htmlFor="f-pipeline">{t('filters.pipeline')}</label>
            <select id="f-pipeline" className="input" value={filters.pipelineId} onChange={(e) => setFilters({ pipelineId: e.target.value })}>
              <option value="">{t('filters.allPipelines')}</option>
              {(pipelines.data?.pipelines ?? []).map((p) => (
                <option key={p.id} value={p.id}>
                  {pipelineNames.get(p.id)}
                </option>
              ))}
              {filters.pipelineId && !pipelineNames.has(filters.pipelineId) && <option value={filters.pipelineId}>{filters.pipelineId}</option>}
            </select>
          </div>
          <div className="field">
            <label htmlFor="f-status">{t('filters.status')}</label>
            <select id="f-status" className="input" value={filters.status} onChange={(e) => setFilters({ status: e.target.value as ExecutionFilters['status'] })}>
              <option value="">{t('filters.allStatuses')}</option>
              {executionStatuses.map((s) => (
                <option key={s} value={s}>
                  {t(`status.${s}`, { ns: 'common' })}
                </option>
              ))}
            </select>
          </div>
          <div className="field">
            <label htmlFor="f-from">{t('filters.from')}</label>
            <input id="f-from" className="input" type="date" value={filters.from} max={filters.to || undefined} onChange={(e) => setFilters({ from: e.target.value })} />
          </div>
          <div className="field">
            <label htmlFor="f-to">{t('filters.to')}</label>
            <input id="f-to" className="input" type="date" value={filters.to} min={filters.from || undefined} onChange={(e) => setFilters({ to: e.target.value })} />
          </div>
          <div className="spacer" />
          {filtered && (
            <button className="btn btn-ghost" onClick={() => setParams(new URLSearchParams(), { replace: true })}>
              {t('filters.clear')}
            </button>
          )}
        </div>
      </Card>

      <ErrorBanner error={error || pipelines.error} onRetry={() => setTick((x) => x + 1)} />

      <Card className="exec-table-card">
        {loading && items.length === 0 ? (
          <Loading />
        ) : items.length === 0 ? (
          <Empty>{filtered ? t('emptyFiltered') : t('empty')}</Empty>
        ) : (
          <table className={`table exec-table${loading ? ' is-stale' : ''}`} data-testid="executions-table">
            <thead>
              <tr>
                <th>{t('columns.status')}</th>
                <th>{t('columns.pipeline')}</th>
                <th>{t('columns.execution')}</th>
                <th>{t('columns.nodes')}</th>
                <th>{t('columns.created')}</th>
                <th className="num">{t('columns.duration')}</th>
                <th>{t('columns.createdBy')}</th>
              </tr>
            </thead>
            <tbody>
              {items.map((e) => (
                <tr key={e.execution_id} className="clickable" data-testid="execution-row" data-status={e.status} onClick={() => navigate(`/executions/${e.execution_id}`)}>
                  <td>
                    <StatusBadge status={e.status} />
                  </td>
                  <td>
                    <span className="exec-pipeline">{pipelineNames.get(e.pipeline_id) ?? t('unknownPipeline')}</span>{' '}
                    <Badge>{t('version', { version: e.pipeline_version })}</Badge>
                  </td>
                  <td>
                    <Link to={`/executions/${e.execution_id}`} className="mono" title={e.execution_id} onClick={(ev) => ev.stopPropagation()}>
                      {shortId(e.execution_id)}
                    </Link>
                  </td>
                  <td>
                    <NodeStrip nodes={e.nodes} />
                  </td>
                  <td className="muted">{formatDateTime(e.created_at)}</td>
                  <td className="num mono">{formatElapsed(executionDuration(e, now), units)}</td>
                  <td>{e.created_by || e.client_id || '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {items.length > 0 && (
          <div className="exec-foot">
            <span className="muted small">
              {t('shown', { count: items.length })}
              {next ? ` · ${t('more')}` : ''}
            </span>
            {liveIds && (
              <span className="live-pill">
                <span className="live-dot" /> {t('live')}
              </span>
            )}
            <div className="spacer" />
            {next && (
              <button className="btn" onClick={loadMore} disabled={loadingMore} data-testid="load-more">
                {loadingMore && <Spinner />} {t('actions.loadMore', { ns: 'common' })}
              </button>
            )}
          </div>
        )}
      </Card>
    </div>
  );
}
