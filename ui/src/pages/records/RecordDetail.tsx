import { useMemo, type ReactNode } from 'react';
import { Link } from 'react-router';
import { useTranslation } from 'react-i18next';
import { Badge, StatusBadge, VerdictBadge } from '../../components/ui';
import { durationBetween, formatDateTime, formatDuration } from '../../lib/format';
import { acknowledgedAt, type Master, type Rec } from './api';
import { ImageViewer, type ViewerDetections } from './ImageViewer';
import { OverrideForm } from './OverrideForm';
import { detectionsOf, mapBox, type Size } from './overlay';
import { effectiveOverrideId, type OverrideForm as Form } from './override';
import type { CloudSchemas } from '../../api/client';

const upper = (r: string | undefined) => (r === 'ok' ? 'OK' : r === 'ng' ? 'NG' : undefined);

function KV({ label, children }: { label: string; children: ReactNode }) {
  return (
    <>
      <dt>{label}</dt>
      <dd>{children || '—'}</dd>
    </>
  );
}

export interface DetailProps {
  record: Rec;
  master: Master | null;
  /** detector frame size (the detect node's output image), when known */
  frame: Size | null;
  ackedLocal: boolean;
  canOverride: boolean;
  form: { initial: Form; key: number } | null;
  onOpenForm: (result: 'OK' | 'NG') => void;
  onCloseForm: () => void;
  onOverride: (body: CloudSchemas['OverrideRequest']) => Promise<void>;
  onAcknowledge: () => void;
}

export function RecordDetail({ record: r, master, frame, ackedLocal, canOverride, form, onOpenForm, onCloseForm, onOverride, onAcknowledge }: DetailProps) {
  const { t } = useTranslation('records');
  const defectTypes = master?.defect_types ?? [];
  const defectName = (code: string | undefined) => {
    if (!code) return '';
    const d = defectTypes.find((x) => x.code === code);
    return d?.name ? `${d.name} (${code})` : code;
  };
  const ack = acknowledgedAt(r);
  const acked = ackedLocal || !!ack.at;
  const ex = r.cloud.execution;
  const nodes = useMemo(() => detectionsOf(ex), [ex]);
  const det = nodes[nodes.length - 1];
  const viewerDet = useMemo<ViewerDetections | null>(
    () => (det ? { inputFileId: ex?.inputs[0], frame, detections: det.detections.map((d) => ({ label: d.label, score: d.score, box: d.box })) } : null),
    [det, ex, frame],
  );
  const imgSize = r.images[0]?.width && r.images[0]?.height ? { w: r.images[0].width, h: r.images[0].height } : null;
  const effId = effectiveOverrideId(r.overrides);
  const eff = upper(r.effective_verdict.result);
  const pf = r.prefilter;

  return (
    <div className="rv-detail" data-testid="record-detail" data-record-id={r.record_id}>
      <section className="card rv-summary">
        <div className="rv-summary-main">
          <div className={`rv-eff rv-eff-${eff ?? 'none'}`} data-testid="effective-verdict" data-verdict={eff}>
            <span className="rv-eff-label">{t('detail.effective')}</span>
            <span className="rv-eff-value">{eff ?? '—'}</span>
            {eff === 'NG' && r.effective_verdict.defect_type && <span className="rv-eff-defect">{defectName(r.effective_verdict.defect_type)}</span>}
          </div>
          <div className="rv-summary-info">
            <div className="rv-summary-title">
              <strong>{r.product_code}</strong>
              <span className="muted">{r.lot || t('list.noLot')}</span>
              {r.serial && <span className="muted">{t('list.serial', { serial: r.serial })}</span>}
              {r.overrides.length > 0 && <Badge tone="warn">✎ {t('list.overridden')}</Badge>}
              {acked && (
                <span data-testid="detail-acknowledged">
                  <Badge tone="ok">✓ {t('list.acknowledged')}</Badge>
                </span>
              )}
            </div>
            <div className="muted small">
              {formatDateTime(r.captured_at)} · {r.line} · {r.device_id}
              {r.master_version ? ` · ${t('detail.masterVersion', { version: r.master_version })}` : ''}
            </div>
            {ack.at && <div className="muted small">{t('detail.acknowledgedBy', { by: ack.by ?? '', at: formatDateTime(ack.at) })}</div>}
            <div className="rv-summary-actions">
              {canOverride && (
                <>
                  <button type="button" className="btn btn-sm" onClick={() => onOpenForm('OK')}>
                    {t('detail.overrideOK')} <span className="kbd">o</span>
                  </button>
                  <button type="button" className="btn btn-sm" onClick={() => onOpenForm('NG')}>
                    {t('detail.overrideNG')} <span className="kbd">n</span>
                  </button>
                </>
              )}
              <button type="button" className="btn btn-sm btn-primary" disabled={acked} onClick={onAcknowledge} data-testid="acknowledge-current">
                {acked ? `✓ ${t('detail.acknowledgedLocal')}` : t('detail.acknowledge')} {!acked && <span className="kbd rv-kbd-inv">a</span>}
              </button>
            </div>
          </div>
        </div>
        {form && canOverride && (
          <OverrideForm initial={form.initial} focusKey={form.key} defectTypes={defectTypes} onSubmit={onOverride} onClose={onCloseForm} />
        )}
      </section>

      <ImageViewer recordId={r.record_id} images={r.images} det={viewerDet} />

      <div className="rv-cards">
        <section className="card rv-card">
          <h3>{t('edge.title')}</h3>
          <div className="row">
            <VerdictBadge verdict={upper(r.verdict.result)} />
          </div>
          <dl className="rv-kv">
            <KV label={t('edge.inspector')}>{r.inspector}</KV>
            <KV label={t('edge.defectType')}>{defectName(r.verdict.defect_type)}</KV>
            <KV label={t('edge.note')}>{r.verdict.note}</KV>
            <KV label={t('edge.decidedAt')}>{formatDateTime(r.verdict.decided_at)}</KV>
          </dl>
        </section>

        <section className="card rv-card">
          <h3>{t('prefilter.title')}</h3>
          {pf ? (
            <>
              <div className="row">
                <Badge tone={pf.label === 'suspect' ? 'warn' : 'ok'}>{pf.label === 'suspect' ? t('prefilter.suspect') : pf.label === 'pass' ? t('prefilter.pass') : pf.label}</Badge>
                <span className="mono">{(pf.score ?? 0).toFixed(3)}</span>
              </div>
              <div className="rv-scorebar" aria-hidden>
                <div className="rv-scorebar-fill" style={{ width: `${Math.min(100, Math.max(0, (pf.score ?? 0) * 100))}%` }} />
                <div className="rv-scorebar-thr" style={{ left: `${Math.min(100, Math.max(0, (pf.threshold ?? 0) * 100))}%` }} />
              </div>
              <dl className="rv-kv">
                <KV label={t('prefilter.score')}>
                  <span className="mono">{(pf.score ?? 0).toFixed(4)}</span>
                </KV>
                <KV label={t('prefilter.threshold')}>
                  <span className="mono">{(pf.threshold ?? 0).toFixed(4)}</span>
                </KV>
                <KV label={t('prefilter.model')}>
                  <span className="mono">{[pf.model_name, pf.model_version].filter(Boolean).join('@')}</span>
                </KV>
              </dl>
            </>
          ) : (
            <p className="muted">{t('prefilter.none')}</p>
          )}
        </section>

        <section className="card rv-card rv-span2" data-testid="cloud-result">
          <div className="row">
            <h3>{t('cloud.title')}</h3>
            <span className="spacer" />
            {ex ? <StatusBadge status={ex.status} /> : <Badge tone={r.cloud.pipeline_state === 'failed' ? 'ng' : 'neutral'}>{t(`cloud.state.${r.cloud.pipeline_state}`)}</Badge>}
            {r.cloud.execution_id && (
              <Link className="btn btn-sm btn-ghost" to={`/executions/${r.cloud.execution_id}`}>
                {t('detail.openExecution')} →
              </Link>
            )}
          </div>
          {r.cloud.error && <div className="banner banner-error">{r.cloud.error}</div>}
          {ex?.error && <div className="banner banner-error">{ex.error}</div>}
          {!ex && r.cloud.pipeline_state === 'none' && <p className="muted">{t('cloud.noExecution')}</p>}
          {ex && (
            <dl className="rv-kv rv-kv-row">
              <KV label={t('cloud.execution')}>
                <span className="mono">{ex.execution_id.slice(0, 8)}…</span>
              </KV>
              <KV label={t('cloud.duration')}>{formatDuration(durationBetween(ex.started_at, ex.finished_at))}</KV>
            </dl>
          )}
          {ex && det && (
            <>
              <h4 className="rv-subhead">
                {t('cloud.detections')} <span className="muted">({det.detections.length})</span>
              </h4>
              {det.detections.length === 0 ? (
                <p className="muted">{t('cloud.noDetections')}</p>
              ) : (
                <table className="table rv-det-table" data-testid="detections-table">
                  <thead>
                    <tr>
                      <th>{t('cloud.label')}</th>
                      <th className="num">{t('cloud.score')}</th>
                      <th className="num">{t('cloud.box')}</th>
                    </tr>
                  </thead>
                  <tbody>
                    {det.detections.slice(0, 30).map((d, i) => {
                      const b = imgSize ? mapBox(d.box, frame, imgSize) : d.box;
                      return (
                        <tr key={i}>
                          <td>{d.label}</td>
                          <td className="num mono">{(d.score * 100).toFixed(1)}%</td>
                          <td className="num mono">
                            {Math.round(b.x)}, {Math.round(b.y)}, {Math.round(b.w)}, {Math.round(b.h)}
                          </td>
                        </tr>
                      );
                    })}
                  </tbody>
                </table>
              )}
              {det.detections.length > 30 && <p className="muted small">{t('cloud.more', { count: det.detections.length - 30 })}</p>}
            </>
          )}
        </section>

        <section className="card rv-card rv-span2" data-testid="audit-history">
          <h3>{t('audit.title')}</h3>
          <ol className="rv-audit">
            <li className={`rv-audit-item${effId === null ? ' in-force' : ''}`} data-origin="device">
              <div className="rv-audit-head">
                <VerdictBadge verdict={upper(r.verdict.result)} />
                <strong>{t('audit.original')}</strong>
                {r.verdict.defect_type && <span className="muted">{defectName(r.verdict.defect_type)}</span>}
                <span className="spacer" />
                {effId === null && <Badge tone="info">{t('audit.inForce')}</Badge>}
                <span className="muted small">{formatDateTime(r.verdict.decided_at ?? r.captured_at)}</span>
              </div>
              <div className="muted small">
                {r.inspector ? t('audit.by', { actor: r.inspector }) : ''} {r.verdict.note ? `· ${r.verdict.note}` : ''}
              </div>
            </li>
            {r.overrides.map((o) => (
              <li key={o.override_id} className={`rv-audit-item${o.override_id === effId ? ' in-force' : ''}`} data-origin={o.origin} data-testid="audit-entry">
                <div className="rv-audit-head">
                  <VerdictBadge verdict={upper(o.verdict.result)} />
                  <Badge tone={o.origin === 'cloud' ? 'info' : 'neutral'}>{t(`audit.origin.${o.origin}`)}</Badge>
                  <strong>{o.actor}</strong>
                  {o.verdict.defect_type && <span className="muted">{defectName(o.verdict.defect_type)}</span>}
                  <span className="spacer" />
                  {o.override_id === effId && <Badge tone="info">{t('audit.inForce')}</Badge>}
                  <span className="muted small">{formatDateTime(o.at)}</span>
                </div>
                <div className="rv-audit-reason">{o.reason}</div>
                {o.verdict.note && <div className="muted small">{o.verdict.note}</div>}
              </li>
            ))}
          </ol>
          {r.overrides.length === 0 && <p className="muted small">{t('audit.empty')}</p>}
        </section>
      </div>
    </div>
  );
}
