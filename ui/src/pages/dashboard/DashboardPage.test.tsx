import { act, cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { MemoryRouter, Route, Routes, useLocation } from 'react-router';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import i18n from '../../i18n';
import type { EChartProps } from './EChart';
import type { Stats } from './stats';

// The canvas cannot draw in jsdom: the chart is replaced by a stub that
// shows its series and lets a test fire the click ECharts would.
vi.mock('./EChart', () => ({
  EChart: ({ option, onClick, testId, label }: EChartProps) => (
    <div data-testid={testId} aria-label={label}>
      <span data-testid={`${testId}-series`}>{JSON.stringify((option.series as { id: string; data: unknown }[]).map((s) => [s.id, s.data]))}</span>
      <button
        data-testid={`${testId}-click-ng-0`}
        onClick={() => onClick?.({ componentType: 'series', seriesId: 'ng', dataIndex: 0 } as never)}
      />
    </div>
  ),
}));
const session = vi.hoisted(() => ({ perms: new Set<string>() }));
vi.mock('../../app/session', () => ({ useSession: () => ({ can: (p: string) => session.perms.has(p) }) }));
// The API client: GET /api/v1/stats answers what a test sets.
const api = vi.hoisted(() => ({ GET: vi.fn() }));
vi.mock('../../api/client', async (importOriginal) => ({ ...(await importOriginal<object>()), cloud: { GET: api.GET } }));

const { DashboardPage } = await import('.');

const c = (total: number, ng: number) => ({ total, ok: total - ng, ng, yield: total ? (total - ng) / total : 0 });
const stats: Stats = {
  ...c(1234, 34),
  by_line: [{ key: 'L1', ...c(1000, 30) }, { key: 'L2', ...c(234, 4) }],
  by_product: [{ key: 'P-1', ...c(1234, 34) }],
  by_shift: [{ key: 'A', ...c(1234, 34) }, { key: 'B', ...c(0, 0) }],
  trend: [{ start: '2026-11-30T08:00:00Z', ...c(1234, 34) }],
  pareto: [{ defect_type: 'dent', count: 4 }, { defect_type: 'scratch', count: 30 }],
};
const empty: Stats = { ...c(0, 0), by_line: [], by_product: [], by_shift: [], trend: [], pareto: [] };

function Where() {
  const l = useLocation();
  return <div data-testid="where">{l.pathname + l.search}</div>;
}

function renderAt(url: string) {
  return render(
    <MemoryRouter initialEntries={[url]}>
      <Routes>
        <Route path="/dashboard" element={<><DashboardPage /><Where /></>} />
        <Route path="/records" element={<Where />} />
      </Routes>
    </MemoryRouter>,
  );
}

const ok = (data: Stats) => ({ data, response: new Response(null, { status: 200 }) });
function respond(body: Stats) {
  api.GET.mockImplementation(async () => ok(body));
}
/** requested lists the stats queries asked for, as URL queries. */
const requested = () =>
  api.GET.mock.calls
    .filter((call) => call[0] === '/api/v1/stats')
    .map((call) => new URLSearchParams((call[1] as { params: { query: Record<string, string> } }).params.query).toString());

beforeEach(async () => {
  api.GET.mockReset();
  session.perms.clear();
  await act(() => i18n.changeLanguage('en'));
});
afterEach(() => cleanup());

describe('DashboardPage', () => {
  it('shows skeletons, then KPI tiles formatted in the language', async () => {
    let release: (r: ReturnType<typeof ok>) => void = () => {};
    api.GET.mockImplementation(() => new Promise((r) => (release = r)));
    renderAt('/dashboard?line=L1');
    expect(screen.getByTestId('dashboard-loading')).toBeTruthy();
    await act(async () => release(ok(stats)));
    expect(await screen.findByTestId('kpi-yield-value')).toHaveProperty('textContent', '97.2%');
    expect(screen.getByTestId('kpi-inspected-value').textContent).toBe('1,234');
    expect(screen.getByTestId('kpi-ng-value').textContent).toBe('34');
    expect(screen.getByTestId('kpi-top-defect-value').textContent).toBe('scratch');
    expect(screen.queryByTestId('dashboard-loading')).toBeNull();
    // The request carries the filters, today's window and the hourly bucket.
    const q = new URLSearchParams(requested()[0]);
    expect([...q.keys()].sort()).toEqual(['bucket', 'line', 'since', 'until']);
    expect(q.get('line')).toBe('L1');
    expect(q.get('bucket')).toBe('hour');
    expect(Date.parse(q.get('until')!) - Date.parse(q.get('since')!)).toBeGreaterThanOrEqual(23 * 3600e3);
  });

  it('labels charts in Japanese', async () => {
    await act(() => i18n.changeLanguage('ja'));
    respond(stats);
    renderAt('/dashboard');
    expect(await screen.findByText('不良パレート図')).toBeTruthy();
    expect(screen.getByTestId('kpi-yield-value').textContent).toBe('97.2%');
    expect(screen.getByText('直別')).toBeTruthy();
  });

  it('draws the Pareto sorted with the cumulative share', async () => {
    respond(stats);
    renderAt('/dashboard');
    const series = JSON.parse((await screen.findByTestId('chart-pareto-series')).textContent!);
    expect(series).toEqual([
      ['count', [30, 4]],
      ['cumulative', [88.2, 100]],
    ]);
  });

  it('a chart click opens the matching records with the dashboard filters', async () => {
    respond(stats);
    renderAt('/dashboard?range=7d&product_code=P-1');
    fireEvent.click(await screen.findByTestId('chart-line-click-ng-0'));
    const where = new URL(screen.getByTestId('where').textContent!, 'http://x');
    expect(where.pathname).toBe('/records');
    expect(where.searchParams.get('line')).toBe('L1');
    expect(where.searchParams.get('verdict')).toBe('NG');
    expect(where.searchParams.get('product_code')).toBe('P-1');
    expect(where.searchParams.get('since')).toMatch(/Z$/);
  });

  it('KPI tiles link to their records', async () => {
    respond(stats);
    renderAt('/dashboard');
    const ng = await screen.findByTestId('kpi-ng');
    expect(ng.getAttribute('href')).toMatch(/^\/records\?verdict=NG&since=/);
    expect(screen.getByTestId('kpi-top-defect').getAttribute('href')).toMatch(/defect_type=scratch&verdict=NG/);
  });

  it('shows the empty state and widens to 30 days from it', async () => {
    respond(empty);
    renderAt('/dashboard?line=L9');
    expect(await screen.findByTestId('dashboard-empty')).toBeTruthy();
    fireEvent.click(screen.getByRole('button', { name: 'Show the last 30 days' }));
    await waitFor(() => expect(screen.getByTestId('where').textContent).toBe('/dashboard?range=30d&line=L9'));
    await waitFor(() => expect(requested().some((u) => u.includes('bucket=day'))).toBe(true));
  });

  it('changing a filter updates the URL and asks again', async () => {
    respond(stats);
    renderAt('/dashboard');
    await screen.findByTestId('kpi-yield-value');
    fireEvent.change(screen.getByLabelText('Line'), { target: { value: 'L2' } });
    await waitFor(() => expect(screen.getByTestId('where').textContent).toBe('/dashboard?line=L2'));
    await waitFor(() => expect(requested().some((u) => u.includes('line=L2'))).toBe(true));
    fireEvent.click(screen.getByRole('button', { name: '7 days' }));
    await waitFor(() => expect(screen.getByTestId('where').textContent).toBe('/dashboard?range=7d&line=L2'));
  });

  it('filters by a device of the fleet, kept in the URL', async () => {
    session.perms.add('devices:read');
    const device = (device_id: string, name: string, line: string, revoked_at?: string) => ({ device_id, name, line, online: true, queued: 0, queued_bytes: 0, revoked_at });
    const devices = [device('d-2', 'Camera B', 'L2'), device('d-1', 'Camera A', 'L1'), device('d-old', 'Retired', 'L1', '2026-01-01T00:00:00Z')];
    api.GET.mockImplementation(async (path: string) =>
      path === '/api/v1/devices' ? { data: { devices }, response: new Response(null, { status: 200 }) } : ok(stats),
    );
    renderAt('/dashboard?line=L1');
    await screen.findByTestId('kpi-yield-value');
    const select = screen.getByLabelText('Device') as HTMLSelectElement;
    // The devices of the chosen line, not revoked ones.
    await waitFor(() => expect([...select.options].map((o) => o.textContent)).toEqual(['All devices', 'Camera A (d-1)']));
    fireEvent.change(select, { target: { value: 'd-1' } });
    await waitFor(() => expect(screen.getByTestId('where').textContent).toBe('/dashboard?line=L1&device_id=d-1'));
    await waitFor(() => expect(requested().some((u) => u.includes('device_id=d-1'))).toBe(true));
    // Another line drops a device that is not on it.
    fireEvent.change(screen.getByLabelText('Line'), { target: { value: 'L2' } });
    await waitFor(() => expect(screen.getByTestId('where').textContent).toBe('/dashboard?line=L2'));
    fireEvent.change(screen.getByLabelText('Line'), { target: { value: '' } });
    await waitFor(() => expect([...(screen.getByLabelText('Device') as HTMLSelectElement).options].map((o) => o.value)).toEqual(['', 'd-1', 'd-2']));
  });

  it('keeps a device from the URL selected even when the fleet does not list it', async () => {
    respond(stats);
    renderAt('/dashboard?device_id=d-gone');
    await screen.findByTestId('kpi-yield-value');
    expect((screen.getByLabelText('Device') as HTMLSelectElement).value).toBe('d-gone');
    expect(requested().some((u) => u.includes('device_id=d-gone'))).toBe(true);
  });

  it('shows the API error with a retry', async () => {
    api.GET.mockImplementation(async () => ({ error: { title: 'Forbidden', status: 403, detail: 'no records:read' }, response: new Response(null, { status: 403 }) }));
    renderAt('/dashboard');
    expect((await screen.findByRole('alert')).textContent).toContain('no records:read');
  });
});
