// Results review: a filterable, paginated list of synced records on the
// left, the selected record on the right (/records/:id), made for keyboard
// review. Filters live in the URL so dashboards can deep-link here.
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { useNavigate, useParams, useSearchParams } from 'react-router';
import { useTranslation } from 'react-i18next';
import { ErrorBanner, Loading } from '../../components/ui';
import { useSession } from '../../app/session';
import type { CloudSchemas } from '../../api/client';
import { acknowledge, acknowledgedAt, fileSize, getMaster, getRecord, listDevices, listMasters, overrideRecord, PAGE_SIZE, searchRecords, startSearch, type Master, type Rec } from './api';
import { FiltersBar, type Suggestions } from './FiltersBar';
import { filtersToQuery, parseFilters, toSearchQuery, type RecordFilters } from './filters';
import { keyAction, step, toggle, type KeyAction } from './keyboard';
import { detectionsOf, type Size } from './overlay';
import type { OverrideForm as Form } from './override';
import { RecordDetail } from './RecordDetail';
import { RecordList } from './RecordList';
import { ShortcutLegend } from './ShortcutLegend';
import './records.css';

interface ListState {
  key: string;
  records: Rec[];
  next: string | undefined;
  loading: boolean;
  error: unknown;
  version: number;
}

interface Paging {
  fkey: string;
  /** page_token of every page visited so far ([0] = first page) */
  tokens: (string | undefined)[];
  index: number;
}

const emptySuggestions: Suggestions = { lines: [], devices: [], products: [], defectTypes: [] };

export function RecordsPage() {
  const { t } = useTranslation('records');
  const { id } = useParams();
  const [params] = useSearchParams();
  const navigate = useNavigate();
  const { can } = useSession();
  const canOverride = can('records:override');

  const search = params.toString();
  const filters = useMemo(() => parseFilters(new URLSearchParams(search)), [search]);
  const fkey = useMemo(() => filtersToQuery(filters).toString(), [filters]);

  // Paging restarts whenever the filters change.
  const [paging, setPaging] = useState<Paging>({ fkey, tokens: [undefined], index: 0 });
  if (paging.fkey !== fkey) setPaging({ fkey, tokens: [undefined], index: 0 });
  const token = paging.tokens[paging.index];

  const [list, setList] = useState<ListState>({ key: '', records: [], next: undefined, loading: true, error: null, version: 0 });
  const [reloadTick, setReloadTick] = useState(0);
  const pendingSelect = useRef<'first' | 'last' | null>(null);
  useEffect(() => {
    if (paging.fkey !== fkey) return;
    let live = true;
    const key = `${fkey}#${paging.index}#${reloadTick}`;
    setList((l) => ({ ...l, key, loading: true, error: null }));
    const q = toSearchQuery(filters, PAGE_SIZE, token);
    (reloadTick > 0 ? searchRecords(q) : startSearch(q)).then(
      (p) => {
        if (!live) return;
        setList((l) => ({ key, records: p.records, next: p.next, loading: false, error: null, version: l.version + 1 }));
      },
      (e: unknown) => {
        if (!live) return;
        setList((l) => ({ ...l, key, loading: false, error: e }));
      },
    );
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [fkey, paging.fkey, paging.index, token, reloadTick]);

  const qs = fkey ? `?${fkey}` : '';
  const open = useCallback((rid: string) => navigate(`/records/${encodeURIComponent(rid)}${qs}`, { replace: true }), [navigate, qs]);
  const setFilters = useCallback((f: RecordFilters) => {
    void startSearch(toSearchQuery(f, PAGE_SIZE)).catch(() => {});
    const q = filtersToQuery(f).toString();
    navigate(`${id ? `/records/${encodeURIComponent(id)}` : '/records'}${q ? `?${q}` : ''}`);
  }, [navigate, id]);

  // After a page turned by the keyboard, select its first (or last) row.
  useEffect(() => {
    const want = pendingSelect.current;
    if (!want || list.loading) return;
    pendingSelect.current = null;
    const r = want === 'first' ? list.records[0] : list.records[list.records.length - 1];
    if (r) open(r.record_id);
  }, [list, open]);

  // Bulk selection and local acknowledgement markers.
  const [checked, setChecked] = useState<ReadonlySet<string>>(new Set());
  const [acked, setAcked] = useState<ReadonlySet<string>>(new Set());
  const [status, setStatus] = useState<string | null>(null);
  const [actionError, setActionError] = useState<unknown>(null);
  useEffect(() => setChecked(new Set()), [fkey]);
  const onCheck = useCallback((rid: string) => setChecked((s) => toggle(s, rid)), []);
  const onCheckPage = useCallback((all: boolean) => setChecked(all ? new Set(list.records.map((r) => r.record_id)) : new Set()), [list.records]);

  const doAcknowledge = useCallback(async (ids: string[]) => {
    if (ids.length === 0) return;
    setActionError(null);
    try {
      const n = await acknowledge(ids);
      setAcked((s) => new Set([...s, ...ids]));
      setStatus(n === 0 ? t('ack.already') : t('ack.done', { count: n }));
      return true;
    } catch (e) {
      setActionError(e);
      return false;
    }
  }, [t]);

  // The selected record, its product master and the detector frame size.
  const cache = useRef(new Map<string, Rec>());
  const [detail, setDetail] = useState<{ id: string; rec: Rec | null; error: unknown; loading: boolean }>({ id: '', rec: null, error: null, loading: false });
  const [master, setMaster] = useState<Master | null>(null);
  const [frame, setFrame] = useState<Size | null>(null);
  useEffect(() => {
    if (!id) {
      setDetail({ id: '', rec: null, error: null, loading: false });
      return;
    }
    const cached = cache.current.get(id);
    if (cached) {
      setDetail({ id, rec: cached, error: null, loading: false });
      return;
    }
    const ac = new AbortController();
    setDetail((d) => ({ id, rec: d.id === id ? d.rec : null, error: null, loading: true }));
    getRecord(id, ac.signal).then(
      (r) => {
        cache.current.set(id, r);
        if (!ac.signal.aborted) setDetail({ id, rec: r, error: null, loading: false });
      },
      (e: unknown) => !ac.signal.aborted && setDetail({ id, rec: null, error: e, loading: false }),
    );
    return () => ac.abort();
  }, [id]);
  const rec = detail.id === id ? detail.rec : null;
  useEffect(() => {
    let live = true;
    if (!rec) return;
    getMaster(rec.product_code).then((m) => live && setMaster(m), () => live && setMaster(null));
    const nodes = detectionsOf(rec.cloud.execution);
    const fid = nodes[nodes.length - 1]?.fileId;
    setFrame(null);
    if (fid) void fileSize(fid).then((s) => live && setFrame(s));
    return () => {
      live = false;
    };
  }, [rec]);

  const activeIndex = useMemo(() => list.records.findIndex((r) => r.record_id === id), [list.records, id]);
  // Prefetch the next record so j shows it at once.
  useEffect(() => {
    const nextRec = list.records[activeIndex + 1];
    if (!nextRec || cache.current.has(nextRec.record_id)) return;
    const h = window.setTimeout(() => void getRecord(nextRec.record_id).then((r) => cache.current.set(r.record_id, r), () => {}), 150);
    return () => window.clearTimeout(h);
  }, [activeIndex, list.records]);

  // The override form.
  const [form, setForm] = useState<{ initial: Form; key: number; id: string } | null>(null);
  const openForm = useCallback((result: 'OK' | 'NG') => {
    if (!rec) return;
    const defect = result === 'NG' ? rec.effective_verdict.defect_type || rec.verdict.defect_type || '' : '';
    setForm((f) => ({ initial: { result, defectType: defect, note: '', reason: '' }, key: (f?.key ?? 0) + 1, id: rec.record_id }));
  }, [rec]);
  const closeForm = useCallback(() => setForm(null), []);
  const onOverride = useCallback(async (body: CloudSchemas['OverrideRequest']) => {
    if (!rec) return;
    const updated = await overrideRecord(rec.record_id, body);
    cache.current.set(updated.record_id, updated);
    setDetail({ id: updated.record_id, rec: updated, error: null, loading: false });
    setList((l) => ({ ...l, records: l.records.map((r) => (r.record_id === updated.record_id ? { ...r, effective_verdict: updated.effective_verdict, overrides: updated.overrides } : r)) }));
    setForm(null);
    setStatus(t('override.saved', { verdict: updated.effective_verdict.result.toUpperCase() }));
  }, [rec, t]);

  // Keyboard review.
  const filtersRef = useRef<HTMLInputElement>(null);
  const turnPage = useCallback((dir: 1 | -1, select: 'first' | 'last' | null) => {
    pendingSelect.current = select;
    if (dir === 1 && list.next) void startSearch(toSearchQuery(filters, PAGE_SIZE, list.next)).catch(() => {});
    setPaging((p) => {
      if (dir === 1) {
        if (!list.next) return p;
        const tokens = p.tokens.slice(0, p.index + 1);
        tokens.push(list.next);
        return { ...p, tokens, index: p.index + 1 };
      }
      return p.index > 0 ? { ...p, index: p.index - 1 } : p;
    });
  }, [list.next, filters]);
  const handlers = useRef<(a: KeyAction) => boolean>(() => false);
  handlers.current = (a) => {
    switch (a) {
      case 'next':
      case 'prev': {
        if (list.loading) return true;
        const s = step(activeIndex, a === 'next' ? 1 : -1, list.records.length, !!list.next, paging.index > 0);
        if (s.kind === 'select') open(list.records[s.index]!.record_id);
        else if (s.kind === 'nextPage') turnPage(1, 'first');
        else if (s.kind === 'prevPage') turnPage(-1, 'last');
        return true;
      }
      case 'overrideOK':
      case 'overrideNG':
        if (!rec || !canOverride) return false;
        openForm(a === 'overrideOK' ? 'OK' : 'NG');
        return true;
      case 'acknowledge':
        if (!rec || !canOverride) return false;
        void doAcknowledge([rec.record_id]);
        return true;
      case 'toggleSelect':
        if (!id) return false;
        onCheck(id);
        return true;
      case 'focusFilters':
        filtersRef.current?.focus();
        filtersRef.current?.select();
        return true;
    }
  };
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const a = keyAction(e);
      if (a && handlers.current(a)) e.preventDefault();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);

  // Filter suggestions (best effort: a role without masters or devices reading still filters by text).
  const [sugg, setSugg] = useState<Suggestions>(emptySuggestions);
  useEffect(() => {
    let live = true;
    void Promise.allSettled([listMasters(), listDevices()]).then(([m, d]) => {
      if (!live) return;
      const masters = m.status === 'fulfilled' ? m.value : [];
      const defects = new Map<string, string | undefined>();
      for (const ms of masters) for (const dt of ms.defect_types ?? []) if (!defects.has(dt.code)) defects.set(dt.code, dt.name);
      setSugg({
        products: masters.map((x) => x.product.code ?? '').filter(Boolean).sort(),
        defectTypes: [...defects].map(([code, name]) => ({ code, name })).sort((a, b) => a.code.localeCompare(b.code)),
        lines: d.status === 'fulfilled' ? d.value.lines : [],
        devices: d.status === 'fulfilled' ? d.value.devices : [],
      });
    });
    return () => {
      live = false;
    };
  }, []);
  const suggestions = useMemo<Suggestions>(() => {
    const lines = new Set(sugg.lines);
    for (const r of list.records) lines.add(r.line);
    return { ...sugg, lines: [...lines].sort() };
  }, [sugg, list.records]);

  useEffect(() => {
    if (!status) return;
    const h = window.setTimeout(() => setStatus(null), 4000);
    return () => window.clearTimeout(h);
  }, [status]);

  const checkedIds = [...checked];
  const formHere = form && rec && form.id === rec.record_id ? form : null;
  return (
    <div className="rv-page">
      <header className="rv-header">
        <div>
          <h1>{t('title')}</h1>
          <p className="muted">{t('subtitle')}</p>
        </div>
        <ShortcutLegend />
      </header>
      <div className="rv-split">
        <aside className="rv-left">
          <FiltersBar filters={filters} onChange={setFilters} suggestions={suggestions} firstRef={filtersRef} />
          <div className="rv-toolbar">
            {checkedIds.length > 0 ? <span className="small">{t('list.selected', { count: checkedIds.length })}</span> : <span className="muted small">{t('list.rows', { count: list.records.length })}</span>}
            {canOverride && (
              <button
                type="button"
                className="btn btn-sm btn-primary"
                disabled={checkedIds.length === 0}
                data-testid="acknowledge-selected"
                onClick={() => void doAcknowledge(checkedIds).then((ok) => ok && setChecked(new Set()))}
              >
                {t('list.acknowledgeSelected')}
              </button>
            )}
            <span className="spacer" />
            <button type="button" className="btn btn-sm" disabled={paging.index === 0 || list.loading} onClick={() => turnPage(-1, null)} aria-label={t('common:actions.previous')} data-testid="page-prev">
              ‹
            </button>
            <span className="small mono" data-testid="page-number">
              {t('list.page', { page: paging.index + 1 })}
            </span>
            <button type="button" className="btn btn-sm" disabled={!list.next || list.loading} onClick={() => turnPage(1, null)} aria-label={t('common:actions.next')} data-testid="page-next">
              ›
            </button>
          </div>
          {list.error ? <ErrorBanner error={list.error} onRetry={() => setReloadTick((x) => x + 1)} /> : null}
          <RecordList
            records={list.records}
            activeId={id}
            checked={checked}
            ackedLocal={acked}
            onOpen={open}
            onCheck={onCheck}
            onCheckPage={onCheckPage}
            version={list.version}
            loading={list.loading}
          />
        </aside>
        <section className="rv-right" aria-live="polite">
          {status && (
            <div className="banner banner-info rv-status" role="status">
              {status}
            </div>
          )}
          {actionError ? <ErrorBanner error={actionError} /> : null}
          {!id && <div className="empty rv-none">{t('detail.none')}</div>}
          {id && detail.loading && !rec && <Loading />}
          {id && detail.error ? <ErrorBanner error={detail.error} /> : null}
          {rec && (
            <RecordDetail
              record={rec}
              master={master}
              frame={frame}
              ackedLocal={acked.has(rec.record_id) || !!acknowledgedAt(rec).at}
              canOverride={canOverride}
              form={formHere}
              onOpenForm={openForm}
              onCloseForm={closeForm}
              onOverride={onOverride}
              onAcknowledge={() => void doAcknowledge([rec.record_id])}
            />
          )}
        </section>
      </div>
    </div>
  );
}
