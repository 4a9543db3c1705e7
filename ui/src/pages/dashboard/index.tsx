// Dashboard: yield, NG count and the defect Pareto by line, shift and
// product, with the trend over time. Every tile, bar, point and axis label
// opens the matching records in the review screen.
import { useCallback, useEffect, useMemo, useState, type ReactNode } from 'react';
import { Link, useNavigate, useSearchParams } from 'react-router';
import { useTranslation } from 'react-i18next';
import type { ECElementEvent } from 'echarts/core';
import { cloud, unwrap } from '../../api/client';
import { useSession } from '../../app/session';
import { ErrorBanner, PageHeader } from '../../components/ui';
import { useAsync } from '../../lib/useAsync';
import { drillTarget, recordsURL, type ChartKind, type DrillTarget } from './drill';
import { EChart } from './EChart';
import {
  filtersToParams, isoSeconds, localDateString, parseFilters, rangePresets, resolveWindow, addDays, deviceOptions,
  type DashboardFilters, type DeviceChoice, type RangePreset, type TimeWindow,
} from './filters';
import { makeFmt, type Fmt } from './format';
import { breakdownOption, paretoOption, sortPareto, trendOption, type ChartText } from './options';
import { fetchStats, statsKey, type Stats, type StatsQuery } from './stats';
import './dashboard.css';

/** How often an open dashboard refreshes itself (a wall screen on the floor stays current). */
const REFRESH_MS = 60_000;

/** Names maps product codes and defect codes to the names the inspection masters give them. */
export interface Names {
  products: Map<string, string>;
  defects: Map<string, string>;
  lines: string[];
  /** devices of the fleet (not revoked) */
  devices: DeviceChoice[];
}

function useNames(): Names {
  const { can } = useSession();
  const masters = useAsync(
    () => (can('masters:read') ? unwrap(cloud.GET('/api/v1/masters')) : Promise.resolve({ masters: [] })),
    [],
  );
  const devices = useAsync(
    () => (can('devices:read') ? unwrap(cloud.GET('/api/v1/devices')) : Promise.resolve({ devices: [] })),
    [],
  );
  return useMemo(() => {
    const products = new Map<string, string>();
    const defects = new Map<string, string>();
    for (const m of masters.data?.masters ?? []) {
      if (m.product.code) products.set(m.product.code, m.product.name);
      for (const d of m.defect_types ?? []) if (d.name && !defects.has(d.code)) defects.set(d.code, d.name);
    }
    const active = (devices.data?.devices ?? []).filter((d) => !d.revoked_at);
    const lines = [...new Set(active.map((d) => d.line).filter(Boolean))];
    return { products, defects, lines, devices: active.map((d) => ({ id: d.device_id, name: d.name, line: d.line })) };
  }, [masters.data, devices.data]);
}

export function DashboardPage() {
  const { t, i18n } = useTranslation('dashboard');
  const navigate = useNavigate();
  const [params, setParams] = useSearchParams();
  const filters = useMemo(() => parseFilters(params), [params]);
  const fmt = useMemo(() => makeFmt(i18n.language), [i18n.language]);
  const names = useNames();

  // "Today" moves at midnight: the window is recomputed when the day changes.
  const [now, setNow] = useState(() => new Date());
  const day = localDateString(now);
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const win = useMemo(() => resolveWindow(filters, now), [filters, day]);
  const query: StatsQuery = {
    line: filters.line,
    device_id: filters.device_id,
    product_code: filters.product_code,
    lot: filters.lot,
    since: isoSeconds(win.since),
    until: isoSeconds(win.until),
    bucket: win.bucket,
  };
  const key = statsKey(query);
  const stats = useAsync(async () => ({ key, stats: await fetchStats(query), at: new Date() }), [key]);
  const { reload } = stats;
  useEffect(() => {
    const id = window.setInterval(() => {
      if (document.visibilityState !== 'visible') return;
      setNow(new Date());
      reload();
    }, REFRESH_MS);
    return () => window.clearInterval(id);
  }, [reload]);

  // Data of another filter is not shown while the new one loads (skeletons instead).
  const current = stats.data?.key === key ? stats.data : undefined;
  const update = useCallback((f: DashboardFilters) => setParams(filtersToParams(f)), [setParams]);
  const drill = useCallback((target: DrillTarget) => recordsURL(filters, win, target), [filters, win]);

  return (
    <div className="page dashboard">
      <PageHeader
        title={t('title')}
        subtitle={
          <>
            {fmt.range(win.since, win.until)} · {t(`bucket.${win.bucket}`)}
          </>
        }
        actions={
          <>
            {current && (
              <span className="muted small dash-updated">
                {t('updated', { time: current.at.toLocaleTimeString(fmt.locale, { hour: '2-digit', minute: '2-digit' }) })}
              </span>
            )}
            <button
              className="btn btn-sm"
              onClick={() => {
                setNow(new Date());
                reload();
              }}
              disabled={stats.loading}
            >
              {t('common:actions.refresh')}
            </button>
          </>
        }
      />
      <FilterBar filters={filters} win={win} names={names} stats={current?.stats} onChange={update} />
      {!!stats.error && <ErrorBanner error={stats.error} onRetry={reload} />}
      {!stats.error && !current && <Skeletons />}
      {current && current.stats.total === 0 && <EmptyState filters={filters} onChange={update} />}
      {current && current.stats.total > 0 && (
        <DashboardBody stats={current.stats} win={win} fmt={fmt} names={names} drill={drill} onOpen={(url) => navigate(url)} />
      )}
    </div>
  );
}

function FilterBar({
  filters,
  win,
  names,
  stats,
  onChange,
}: {
  filters: DashboardFilters;
  win: TimeWindow;
  names: Names;
  stats: Stats | undefined;
  onChange: (f: DashboardFilters) => void;
}) {
  const { t } = useTranslation('dashboard');
  // Known lines and products: from the fleet and masters, plus whatever the statistics and the URL name.
  const lines = useMemo(() => {
    const s = new Set(names.lines);
    for (const r of stats?.by_line ?? []) s.add(r.key);
    if (filters.line) s.add(filters.line);
    return [...s].sort();
  }, [names.lines, stats, filters.line]);
  const products = useMemo(() => {
    const s = new Set(names.products.keys());
    for (const r of stats?.by_product ?? []) s.add(r.key);
    if (filters.product_code) s.add(filters.product_code);
    return [...s].sort();
  }, [names.products, stats, filters.product_code]);
  const devices = useMemo(() => deviceOptions(names.devices, filters.line, filters.device_id), [names.devices, filters.line, filters.device_id]);
  // A device of another line is dropped with the line change (a device not in the fleet is kept).
  const setLine = (line: string | undefined) => {
    const dev = names.devices.find((d) => d.id === filters.device_id);
    onChange({ ...filters, line, device_id: line && dev && dev.line !== line ? undefined : filters.device_id });
  };
  const setRange = (range: RangePreset) => {
    if (range === 'custom')
      onChange({ ...filters, range, from: localDateString(win.since), to: localDateString(addDays(win.until, -1)) });
    else onChange({ ...filters, range, from: undefined, to: undefined });
  };
  const chips = (['lot'] as const).filter((k) => filters[k]);
  const filtered = !!(filters.line || filters.product_code || filters.lot || filters.device_id);
  return (
    <section className="card dash-filters" aria-label={t('filters.label')}>
      <div className="field">
        <span className="dash-field-label">{t('filters.range')}</span>
        <div className="segmented" role="group" aria-label={t('filters.range')}>
          {rangePresets.map((r) => (
            <button key={r} type="button" className={filters.range === r ? 'active' : ''} aria-pressed={filters.range === r} onClick={() => setRange(r)}>
              {t(`filters.${r}`)}
            </button>
          ))}
        </div>
      </div>
      {filters.range === 'custom' && (
        <>
          <div className="field">
            <label htmlFor="dash-from">{t('filters.from')}</label>
            <input
              id="dash-from"
              type="date"
              className="input"
              value={filters.from ?? localDateString(win.since)}
              max={filters.to}
              onChange={(e) => e.target.value && onChange({ ...filters, from: e.target.value })}
            />
          </div>
          <div className="field">
            <label htmlFor="dash-to">{t('filters.to')}</label>
            <input
              id="dash-to"
              type="date"
              className="input"
              value={filters.to ?? localDateString(addDays(win.until, -1))}
              min={filters.from}
              onChange={(e) => e.target.value && onChange({ ...filters, to: e.target.value })}
            />
          </div>
        </>
      )}
      <div className="field">
        <label htmlFor="dash-line">{t('filters.line')}</label>
        <select id="dash-line" className="input" value={filters.line ?? ''} onChange={(e) => setLine(e.target.value || undefined)}>
          <option value="">{t('filters.allLines')}</option>
          {lines.map((l) => (
            <option key={l} value={l}>
              {l}
            </option>
          ))}
        </select>
      </div>
      <div className="field">
        <label htmlFor="dash-device">{t('filters.device')}</label>
        <select
          id="dash-device"
          className="input"
          value={filters.device_id ?? ''}
          onChange={(e) => onChange({ ...filters, device_id: e.target.value || undefined })}
        >
          <option value="">{t('filters.allDevices')}</option>
          {devices.map((d) => (
            <option key={d.id} value={d.id}>
              {d.label}
            </option>
          ))}
        </select>
      </div>
      <div className="field">
        <label htmlFor="dash-product">{t('filters.product')}</label>
        <select
          id="dash-product"
          className="input"
          value={filters.product_code ?? ''}
          onChange={(e) => onChange({ ...filters, product_code: e.target.value || undefined })}
        >
          <option value="">{t('filters.allProducts')}</option>
          {products.map((p) => (
            <option key={p} value={p}>
              {names.products.get(p) ? `${p} — ${names.products.get(p)}` : p}
            </option>
          ))}
        </select>
      </div>
      {chips.length > 0 && (
        <div className="dash-chips">
          {chips.map((k) => {
            const name = t('filters.lot');
            return (
              <span key={k} className="badge badge-info dash-chip" data-testid={`chip-${k}`}>
                {name}: {filters[k]}
                <button type="button" aria-label={t('filters.remove', { name })} onClick={() => onChange({ ...filters, [k]: undefined })}>
                  ✕
                </button>
              </span>
            );
          })}
        </div>
      )}
      <div className="spacer" />
      {filtered && (
        <button type="button" className="btn btn-ghost btn-sm" onClick={() => onChange({ range: filters.range, from: filters.from, to: filters.to })}>
          {t('filters.clear')}
        </button>
      )}
    </section>
  );
}

function DashboardBody({
  stats,
  win,
  fmt,
  names,
  drill,
  onOpen,
}: {
  stats: Stats;
  win: TimeWindow;
  fmt: Fmt;
  names: Names;
  drill: (target: DrillTarget) => string;
  onOpen: (url: string) => void;
}) {
  const { t } = useTranslation('dashboard');
  const text = useMemo<ChartText>(
    () => ({
      ok: t('series.ok'),
      ng: t('series.ng'),
      yield: t('series.yield'),
      count: t('series.count'),
      cumulative: t('series.cumulative'),
      fmt,
    }),
    [t, fmt],
  );
  const options = useMemo(
    () => ({
      trend: trendOption(stats.trend, win.bucket, text),
      pareto: paretoOption(stats.pareto, { ...text, category: (code) => names.defects.get(code) ?? code }),
      line: breakdownOption(stats.by_line, text),
      shift: breakdownOption(stats.by_shift, { ...text, category: (name) => t('shift', { name }) }),
      product: breakdownOption(stats.by_product, text),
    }),
    [stats, win.bucket, text, names.defects, t],
  );
  const click = (chart: ChartKind) => (ev: ECElementEvent) => {
    const target = drillTarget(chart, ev, stats, win.bucket);
    if (target) onOpen(drill(target));
  };
  const top = sortPareto(stats.pareto)[0];
  const defectName = (code: string) => names.defects.get(code) ?? code;
  return (
    <>
      <div className="kpis">
        <Kpi
          id="yield"
          label={t('kpi.yield')}
          value={fmt.pct(stats.yield)}
          sub={t('kpi.okOf', { ok: fmt.num(stats.ok), total: fmt.num(stats.total) })}
          to={drill({ kind: 'all' })}
          tone="primary"
        />
        <Kpi
          id="inspected"
          label={t('kpi.inspected')}
          value={fmt.num(stats.total)}
          sub={t('kpi.scope', { lines: fmt.num(stats.by_line.length), products: fmt.num(stats.by_product.length) })}
          to={drill({ kind: 'all' })}
        />
        <Kpi
          id="ng"
          label={t('kpi.ng')}
          value={fmt.num(stats.ng)}
          sub={t('kpi.ngRate', { rate: fmt.pct(stats.total ? stats.ng / stats.total : 0) })}
          to={drill({ kind: 'all', verdict: 'NG' })}
          tone={stats.ng > 0 ? 'ng' : undefined}
        />
        {top && top.count > 0 ? (
          <Kpi
            id="top-defect"
            label={t('kpi.topDefect')}
            value={defectName(top.defect_type)}
            sub={t('kpi.topShare', { count: fmt.num(top.count), share: fmt.pct(stats.ng ? top.count / stats.ng : 0) })}
            to={drill({ kind: 'defect', defectType: top.defect_type })}
            small
          />
        ) : (
          <Kpi id="top-defect" label={t('kpi.topDefect')} value={t('kpi.none')} sub={t('kpi.noNg')} small />
        )}
      </div>
      <div className="dash-row dash-row-2">
        <ChartCard title={t('charts.trend')}>
          <EChart option={options.trend} onClick={click('trend')} label={t('charts.trend')} testId="chart-trend" height={300} />
        </ChartCard>
        <ChartCard title={t('charts.pareto')}>
          {stats.pareto.length > 0 ? (
            <EChart option={options.pareto} onClick={click('pareto')} label={t('charts.pareto')} testId="chart-pareto" height={300} />
          ) : (
            <div className="dash-chart-empty">{t('charts.noDefects')}</div>
          )}
        </ChartCard>
      </div>
      <div className="dash-row dash-row-3">
        <ChartCard title={t('charts.byLine')}>
          <EChart option={options.line} onClick={click('line')} label={t('charts.byLine')} testId="chart-line" />
        </ChartCard>
        <ChartCard title={t('charts.byShift')}>
          <EChart option={options.shift} onClick={click('shift')} label={t('charts.byShift')} testId="chart-shift" />
        </ChartCard>
        <ChartCard title={t('charts.byProduct')}>
          <EChart option={options.product} onClick={click('product')} label={t('charts.byProduct')} testId="chart-product" />
        </ChartCard>
      </div>
      <p className="muted small dash-hint">{t('charts.hint')}</p>
    </>
  );
}

function Kpi({
  id,
  label,
  value,
  sub,
  to,
  tone,
  small,
}: {
  id: string;
  label: string;
  value: string;
  sub: string;
  to?: string;
  tone?: 'primary' | 'ng';
  small?: boolean;
}) {
  const body = (
    <>
      <span className="kpi-label">{label}</span>
      <span className={`kpi-value${tone ? ` kpi-${tone}` : ''}${small ? ' kpi-value-sm' : ''}`} data-testid={`kpi-${id}-value`} title={value}>
        {value}
      </span>
      <span className="kpi-sub">{sub}</span>
    </>
  );
  return to ? (
    <Link to={to} className="card kpi" data-testid={`kpi-${id}`}>
      {body}
    </Link>
  ) : (
    <div className="card kpi" data-testid={`kpi-${id}`}>
      {body}
    </div>
  );
}

function ChartCard({ title, children }: { title: string; children: ReactNode }) {
  return (
    <section className="card dash-chart">
      <div className="card-title">
        <h2>{title}</h2>
      </div>
      <div className="card-body">{children}</div>
    </section>
  );
}

function Skeletons() {
  const { t } = useTranslation();
  return (
    <div className="dash-skeletons" aria-busy="true" aria-label={t('loading')} data-testid="dashboard-loading">
      <div className="kpis">
        {[0, 1, 2, 3].map((i) => (
          <div key={i} className="card kpi">
            <span className="skeleton" style={{ width: '40%', height: 12 }} />
            <span className="skeleton" style={{ width: '60%', height: 30 }} />
            <span className="skeleton" style={{ width: '75%', height: 12 }} />
          </div>
        ))}
      </div>
      <div className="dash-row dash-row-2">
        {[0, 1].map((i) => (
          <div key={i} className="card dash-chart">
            <div className="card-body">
              <span className="skeleton" style={{ width: '30%', height: 14, marginBottom: 16 }} />
              <span className="skeleton" style={{ height: 280 }} />
            </div>
          </div>
        ))}
      </div>
      <div className="dash-row dash-row-3">
        {[0, 1, 2].map((i) => (
          <div key={i} className="card dash-chart">
            <div className="card-body">
              <span className="skeleton" style={{ width: '30%', height: 14, marginBottom: 16 }} />
              <span className="skeleton" style={{ height: 260 }} />
            </div>
          </div>
        ))}
      </div>
    </div>
  );
}

function EmptyState({ filters, onChange }: { filters: DashboardFilters; onChange: (f: DashboardFilters) => void }) {
  const { t } = useTranslation('dashboard');
  const filtered = !!(filters.line || filters.product_code || filters.lot || filters.device_id);
  return (
    <section className="card dash-empty" data-testid="dashboard-empty">
      <div className="dash-empty-icon" aria-hidden>
        ◔
      </div>
      <h2>{t('empty.title')}</h2>
      <p className="muted">{t('empty.body')}</p>
      <div className="row" style={{ justifyContent: 'center' }}>
        {filters.range !== '30d' && (
          <button className="btn btn-primary" onClick={() => onChange({ ...filters, range: '30d', from: undefined, to: undefined })}>
            {t('empty.last30')}
          </button>
        )}
        {filtered && (
          <button className="btn" onClick={() => onChange({ range: filters.range, from: filters.from, to: filters.to })}>
            {t('empty.clear')}
          </button>
        )}
      </div>
    </section>
  );
}
