// VersionsPanel lists every saved version, opens one read-only, and shows
// what changed between any two (nodes added/removed/changed params, edges).
import { useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import { cloud, unwrap } from '../../api/client';
import { ErrorBanner, Loading } from '../../components/ui';
import { formatDateTime } from '../../lib/format';
import { useAsync } from '../../lib/useAsync';
import { diffDefinitions, isEmptyDiff } from './diff';

const show = (v: unknown) => (v === undefined ? null : JSON.stringify(v));

export function VersionsPanel({ pipelineId, current }: { pipelineId: string | null; current: number }) {
  const { t } = useTranslation('pipelines');
  const versions = useAsync(
    () => (pipelineId ? unwrap(cloud.GET('/api/v1/pipelines/{id}/versions', { params: { path: { id: pipelineId } } })).then((r) => r.versions) : Promise.resolve([])),
    [pipelineId, current],
  );
  const list = useMemo(() => [...(versions.data ?? [])].sort((a, b) => b.version - a.version), [versions.data]);
  const [a, setA] = useState<number | null>(null);
  const [b, setB] = useState<number | null>(null);
  if (!pipelineId) return <p className="muted panel-empty">{t('versions.none')}</p>;
  if (versions.error) return <ErrorBanner error={versions.error} onRetry={versions.reload} />;
  if (!versions.data) return <Loading />;
  const latest = list[0]?.version ?? 0;
  const va = a ?? list[1]?.version ?? null;
  const vb = b ?? latest;
  const pa = list.find((p) => p.version === va);
  const pb = list.find((p) => p.version === vb);
  const d = pa && pb ? diffDefinitions(pa.definition, pb.definition) : null;
  return (
    <div className="versions" data-testid="versions">
      <h3 className="section">{t('versions.title')}</h3>
      <table className="table versions-table">
        <thead>
          <tr>
            <th>{t('versions.version')}</th>
            <th>{t('versions.at')}</th>
            <th title={t('versions.a')}>{t('versions.a')}</th>
            <th title={t('versions.b')}>{t('versions.b')}</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {list.map((p) => (
            <tr key={p.version} className={p.version === current ? 'selected' : ''}>
              <td>
                <strong>v{p.version}</strong>
                {p.version === current && <span className="muted small"> · {t('versions.current')}</span>}
                <div className="muted small">{p.created_by}</div>
              </td>
              <td className="small">{formatDateTime(p.created_at)}</td>
              <td>
                <input type="radio" name="va" aria-label={`${t('versions.a')} v${p.version}`} checked={va === p.version} onChange={() => setA(p.version)} />
              </td>
              <td>
                <input type="radio" name="vb" aria-label={`${t('versions.b')} v${p.version}`} checked={vb === p.version} onChange={() => setB(p.version)} />
              </td>
              <td>
                <Link className="btn btn-sm" to={p.version === latest ? `/pipelines/${pipelineId}` : `/pipelines/${pipelineId}?version=${p.version}`}>
                  {t('versions.open')}
                </Link>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {d && va !== null && (
        <div className="diff" data-testid="version-diff">
          <h3 className="section">{t('versions.diffTitle', { a: va, b: vb })}</h3>
          {isEmptyDiff(d) && <p className="muted small">{t('versions.same')}</p>}
          {d.nameBefore !== undefined && <p className="small">{t('versions.renamed', { before: d.nameBefore, after: d.nameAfter })}</p>}
          {d.nodesAdded.length > 0 && (
            <DiffGroup title={t('versions.nodesAdded')} tone="add">
              {d.nodesAdded.map((n) => (
                <li key={n.id}>
                  <code>{n.id}</code> <span className="muted">{n.part}</span>
                </li>
              ))}
            </DiffGroup>
          )}
          {d.nodesRemoved.length > 0 && (
            <DiffGroup title={t('versions.nodesRemoved')} tone="del">
              {d.nodesRemoved.map((n) => (
                <li key={n.id}>
                  <code>{n.id}</code> <span className="muted">{n.part}</span>
                </li>
              ))}
            </DiffGroup>
          )}
          {d.nodesChanged.length > 0 && (
            <DiffGroup title={t('versions.nodesChanged')} tone="chg">
              {d.nodesChanged.map((n) => (
                <li key={n.id}>
                  <code>{n.id}</code>
                  {n.partBefore && <span className="small"> {t('versions.partChanged', { before: n.partBefore, after: n.partAfter })}</span>}
                  <ul className="param-changes">
                    {n.params.map((p) => (
                      <li key={p.key} className="mono small">
                        {p.key}: <del>{show(p.before) ?? t('versions.unset')}</del> → <ins>{show(p.after) ?? t('versions.unset')}</ins>
                      </li>
                    ))}
                  </ul>
                </li>
              ))}
            </DiffGroup>
          )}
          {d.edgesAdded.length > 0 && (
            <DiffGroup title={t('versions.edgesAdded')} tone="add">
              {d.edgesAdded.map((e) => (
                <li key={`${e.from}>${e.to}`} className="mono small">
                  {e.from} → {e.to}
                </li>
              ))}
            </DiffGroup>
          )}
          {d.edgesRemoved.length > 0 && (
            <DiffGroup title={t('versions.edgesRemoved')} tone="del">
              {d.edgesRemoved.map((e) => (
                <li key={`${e.from}>${e.to}`} className="mono small">
                  {e.from} → {e.to}
                </li>
              ))}
            </DiffGroup>
          )}
        </div>
      )}
    </div>
  );
}

function DiffGroup({ title, tone, children }: { title: string; tone: 'add' | 'del' | 'chg'; children: React.ReactNode }) {
  return (
    <div className={`diff-group diff-${tone}`}>
      <h4>{title}</h4>
      <ul>{children}</ul>
    </div>
  );
}
