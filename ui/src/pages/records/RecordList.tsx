import { memo, useEffect, useRef } from 'react';
import { useTranslation } from 'react-i18next';
import { VerdictBadge } from '../../components/ui';
import { acknowledgedAt, type Rec } from './api';

const timeFmt = new Map<string, Intl.DateTimeFormat>();
function shortTime(iso: string | undefined, lang: string): string {
  if (!iso) return '—';
  let f = timeFmt.get(lang);
  if (!f) {
    f = new Intl.DateTimeFormat(lang === 'ja' ? 'ja-JP' : 'en-GB', { month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
    timeFmt.set(lang, f);
  }
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '—' : f.format(d);
}

interface RowProps {
  rec: Rec;
  active: boolean;
  checked: boolean;
  acked: boolean;
  lang: string;
  onOpen: (id: string) => void;
  onCheck: (id: string) => void;
}

/** Row is one compact record line: plain elements only, so 100 rows render in a few milliseconds. */
const Row = memo(function Row({ rec, active, checked, acked, lang, onOpen, onCheck }: RowProps) {
  const { t } = useTranslation('records');
  const verdict = rec.effective_verdict.result === 'ng' ? 'NG' : rec.effective_verdict.result === 'ok' ? 'OK' : undefined;
  return (
    <tr
      className={`clickable${active ? ' selected' : ''}`}
      aria-selected={active}
      data-record-id={rec.record_id}
      data-verdict={verdict}
      data-acknowledged={acked || undefined}
      onClick={() => onOpen(rec.record_id)}
    >
      <td className="rv-check" onClick={(e) => e.stopPropagation()}>
        <input type="checkbox" checked={checked} aria-label={t('list.selectRow', { id: rec.record_id })} onChange={() => onCheck(rec.record_id)} />
      </td>
      <td className="rv-time mono">{shortTime(rec.captured_at, lang)}</td>
      <td className="rv-line">{rec.line}</td>
      <td className="rv-prod">
        <div className="rv-prod-code">{rec.product_code}</div>
        <div className="rv-prod-lot muted">
          {rec.lot || t('list.noLot')}
          {rec.serial ? ` · ${t('list.serial', { serial: rec.serial })}` : ''}
        </div>
      </td>
      <td className="rv-verdict">
        <VerdictBadge verdict={verdict} />
        {rec.overrides.length > 0 && (
          <span className="rv-mark rv-mark-ov" title={t('list.overridden')} aria-label={t('list.overridden')} data-testid="marker-overridden">
            ✎
          </span>
        )}
        {acked && (
          <span className="rv-mark rv-mark-ack" title={t('list.acknowledged')} aria-label={t('list.acknowledged')} data-testid="marker-acknowledged">
            ✓
          </span>
        )}
      </td>
    </tr>
  );
});

export interface RecordListProps {
  records: Rec[];
  activeId: string | undefined;
  checked: ReadonlySet<string>;
  ackedLocal: ReadonlySet<string>;
  onOpen: (id: string) => void;
  onCheck: (id: string) => void;
  onCheckPage: (all: boolean) => void;
  /** Increments with every page shown (the perf test waits on it). */
  version: number;
  loading: boolean;
}

export function RecordList({ records, activeId, checked, ackedLocal, onOpen, onCheck, onCheckPage, version, loading }: RecordListProps) {
  const { t, i18n } = useTranslation('records');
  const body = useRef<HTMLDivElement>(null);
  // Keep the active row in view while moving with the keyboard.
  useEffect(() => {
    if (!activeId || !body.current) return;
    const row = [...body.current.querySelectorAll<HTMLElement>('tr[data-record-id]')].find((r) => r.dataset.recordId === activeId);
    row?.scrollIntoView?.({ block: "nearest" });
  }, [activeId, records]);
  // A new page starts at the top.
  useEffect(() => {
    if (body.current) body.current.scrollTop = 0;
  }, [version]);
  const allChecked = records.length > 0 && records.every((r) => checked.has(r.record_id));
  return (
    <div className="rv-list" ref={body} data-testid="records-list" data-version={version} data-state={loading ? 'loading' : 'ready'} aria-busy={loading}>
      <table className="table rv-table" aria-label={t('list.label')}>
        <thead>
          <tr>
            <th className="rv-check">
              <input type="checkbox" checked={allChecked} disabled={records.length === 0} aria-label={t('list.selectPage')} onChange={() => onCheckPage(!allChecked)} />
            </th>
            <th>{t('list.time')}</th>
            <th>{t('list.line')}</th>
            <th>{t('list.product')}</th>
            <th>{t('list.verdict')}</th>
          </tr>
        </thead>
        <tbody>
          {records.map((r) => (
            <Row
              key={r.record_id}
              rec={r}
              active={r.record_id === activeId}
              checked={checked.has(r.record_id)}
              acked={ackedLocal.has(r.record_id) || !!acknowledgedAt(r).at}
              lang={i18n.language}
              onOpen={onOpen}
              onCheck={onCheck}
            />
          ))}
        </tbody>
      </table>
      {!loading && records.length === 0 && <div className="empty">{t('list.empty')}</div>}
    </div>
  );
}
