// The pipelines list: every pipeline's latest version, newest first.
import { useMemo } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useNavigate } from 'react-router';
import { cloud, unwrap } from '../../api/client';
import { useSession } from '../../app/session';
import { Badge, Card, Empty, ErrorBanner, Loading, PageHeader } from '../../components/ui';
import { formatDateTime } from '../../lib/format';
import { useAsync } from '../../lib/useAsync';
import './pipelines.css';

export function PipelineListPage() {
  const { t } = useTranslation('pipelines');
  const { can } = useSession();
  const navigate = useNavigate();
  const list = useAsync(() => unwrap(cloud.GET('/api/v1/pipelines')).then((r) => r.pipelines), []);
  const rows = useMemo(() => [...(list.data ?? [])].sort((a, b) => (b.created_at ?? '').localeCompare(a.created_at ?? '')), [list.data]);
  return (
    <div className="page">
      <PageHeader
        title={t('list.title')}
        subtitle={t('list.subtitle')}
        actions={
          can('pipelines:write') && (
            <Link className="btn btn-primary" to="/pipelines/new" data-testid="new-pipeline">
              + {t('list.new')}
            </Link>
          )
        }
      />
      <ErrorBanner error={list.error} onRetry={list.reload} />
      <Card>
        {list.loading && !list.data ? (
          <Loading />
        ) : rows.length === 0 ? (
          <Empty>
            <p>{t('list.empty')}</p>
            <p className="small">{t('list.emptyHint')}</p>
          </Empty>
        ) : (
          <table className="table pipelines-table">
            <thead>
              <tr>
                <th>{t('list.name')}</th>
                <th>{t('list.version')}</th>
                <th>{t('list.nodes')}</th>
                <th>{t('list.updated')}</th>
                <th>{t('list.by')}</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {rows.map((p) => (
                <tr key={p.id} className="clickable" onClick={() => navigate(`/pipelines/${p.id}`)} data-testid={`pipeline-row-${p.name ?? p.id}`}>
                  <td>
                    <div className="pl-name">{p.name || t('editor.untitled')}</div>
                    <div className="mono muted small">{p.id}</div>
                  </td>
                  <td>
                    <Badge tone="info">v{p.version}</Badge>
                  </td>
                  <td>
                    <div className="pl-flow">
                      {p.definition.nodes.slice(0, 5).map((n, i) => (
                        <span key={n.id} className="pl-step">
                          {i > 0 && <span className="muted">›</span>}
                          <code>{n.part}</code>
                        </span>
                      ))}
                      {p.definition.nodes.length > 5 && <span className="muted small">+{p.definition.nodes.length - 5}</span>}
                    </div>
                    <div className="muted small">{t('list.nodeCount', { count: p.definition.nodes.length })}</div>
                  </td>
                  <td className="small">{formatDateTime(p.created_at)}</td>
                  <td className="small">{p.created_by ?? '—'}</td>
                  <td style={{ textAlign: 'right' }}>
                    <Link className="btn btn-sm" to={`/pipelines/${p.id}`} onClick={(e) => e.stopPropagation()}>
                      {t('list.open')}
                    </Link>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Card>
    </div>
  );
}
