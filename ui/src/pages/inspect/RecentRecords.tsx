// The last inspections of this session on this station, each with its sync
// state, so the inspector sees a record go from queued to synced.
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { EdgeSchemas } from '../../api/client';
import { relativeTime } from './status';
import { defectName, type Product } from './verdict';

export type EdgeRecord = EdgeSchemas['RecordJSON'];

export function RecentRecords({ records, product, imageBase, error }: {
  records: EdgeRecord[] | undefined;
  product: Product | undefined;
  imageBase: string;
  error: boolean;
}) {
  const { t, i18n } = useTranslation('inspect');
  const queued = (records ?? []).filter((r) => !r.synced).length;
  return (
    <section className="insp-panel" aria-labelledby="insp-recent">
      <div className="insp-panel-head">
        <h2 id="insp-recent">{t('recent.title')}</h2>
        {records && records.length > 0 && <span className="insp-panel-meta">{queued > 0 ? t('recent.queuedCount', { count: queued }) : t('recent.allSynced')}</span>}
      </div>
      {error && !records && <div className="insp-empty">{t('recent.unavailable')}</div>}
      {records && records.length === 0 && <div className="insp-empty">{t('recent.empty')}</div>}
      <ol className="insp-records" data-testid="recent-records">
        {(records ?? []).map((r) => {
          const v = r.verdict.result;
          return (
            <li key={r.record_id} className="insp-record" data-testid="record-row" data-record-id={r.record_id} data-sync={r.synced ? 'synced' : 'queued'}>
              <Thumb src={r.evicted ? null : `${imageBase}${r.image_url}`} />
              <div className="insp-record-main">
                <div className="insp-record-line">
                  <span className={`insp-verdict-tag ${v === 'OK' ? 'ok' : 'ng'}`}>{v}</span>
                  {v === 'NG' && <span className="insp-record-defect">{defectName(product, r.verdict.defect_type)}</span>}
                </div>
                <div className="insp-record-sub">
                  {relativeTime(r.created_at ?? r.captured_at, i18n.language)}
                  {r.serial && ` · ${r.serial}`}
                </div>
              </div>
              <span className={`insp-sync ${r.synced ? 'synced' : 'queued'}`} title={r.synced_at ?? ''}>
                {r.synced ? <span aria-hidden>✓</span> : <span className="dot" />}
                <span>{r.synced ? t('recent.synced') : t('recent.queued')}</span>
              </span>
            </li>
          );
        })}
      </ol>
    </section>
  );
}

function Thumb({ src }: { src: string | null }) {
  const [failed, setFailed] = useState(false);
  if (!src || failed) return <div className="insp-thumb insp-thumb-empty" aria-hidden />;
  return <img className="insp-thumb" src={src} alt="" loading="lazy" onError={() => setFailed(true)} />;
}
