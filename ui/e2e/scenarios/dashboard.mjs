// The dashboard shows the yield of records this test creates, and its
// charts drill down to the matching records.
export const title = 'dashboard: yield of the records created by the test, drill-down from a chart';
export const order = 40;

const isoSeconds = (d) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
const pct = (ratio) => new Intl.NumberFormat('en-GB', { style: 'percent', minimumFractionDigits: 1, maximumFractionDigits: 1 }).format(ratio);
const num = (n) => new Intl.NumberFormat('en-GB').format(n);

/** today is the dashboard's "today" window: local midnight to the next (the browser runs in this machine's zone). */
function today() {
  const now = new Date();
  const since = new Date(now.getFullYear(), now.getMonth(), now.getDate());
  const until = new Date(now.getFullYear(), now.getMonth(), now.getDate() + 1);
  return { since: isoSeconds(since), until: isoSeconds(until) };
}

/** inspect saves one verdict at the edge agent: session, capture, verdict. */
async function inspect(ctx, product, lot, verdict) {
  const s = await ctx.edgeApi('POST', '/api/v1/sessions', { product_code: product.code, lot, inspector: 'e2e-dashboard' });
  ctx.assert.equal(s.status, 201, `session: ${s.text}`);
  const c = await ctx.edgeApi('POST', `/api/v1/sessions/${s.json.session_id}/captures`, {});
  ctx.assert.equal(c.status, 201, `capture: ${c.text}`);
  const v = await ctx.edgeApi('POST', `/api/v1/captures/${c.json.capture_id}/verdict`, verdict);
  ctx.assert.equal(v.status, 201, `verdict: ${v.text}`);
  return v.json.record;
}

/** chartPoint is the page position of a data point: the chart wrapper exposes its ECharts instance for this. */
async function chartPoint(page, testId, seriesId, category, value) {
  return page.evaluate(
    ({ testId, seriesId, category, value }) => {
      const el = document.querySelector(`[data-testid="${testId}"]`);
      const p = el.chart.convertToPixel({ seriesId }, [category, value]);
      const r = el.getBoundingClientRect();
      return { x: r.left + p[0], y: r.top + p[1] };
    },
    { testId, seriesId, category, value },
  );
}

async function waitChart(page, testId) {
  await page.waitForFunction((id) => {
    const el = document.querySelector(`[data-testid="${id}"]`);
    return !!el?.chart && (el.chart.getOption()?.series?.length ?? 0) > 0;
  }, testId);
  await page.waitForTimeout(500); // the bars' entry animation
}

function query(url) {
  return Object.fromEntries(new URL(url).searchParams);
}

export async function run(ctx) {
  const line = 'demo-line';
  const lot = `E2E-DASH-${Date.now().toString(36).toUpperCase()}`;

  // Three records at the edge: 2 OK, 1 NG.
  const products = await ctx.edgeApi('GET', '/api/v1/products');
  ctx.assert.equal(products.status, 200, `products: ${products.text}`);
  const product = products.json.products[0];
  ctx.assert.ok(product, 'the edge has a product master');
  const defect = product.defect_types[0]?.code ?? 'scratch';
  await inspect(ctx, product, lot, { result: 'OK' });
  await inspect(ctx, product, lot, { result: 'NG', defect_type: defect, note: 'dashboard e2e' });
  await inspect(ctx, product, lot, { result: 'OK' });
  ctx.log(`created 3 records in lot ${lot} (product ${product.code}, defect ${defect})`);

  await ctx.eventually(
    'the 3 records synced to the cloud',
    async () => {
      const r = await ctx.api('GET', `/api/v1/records?lot=${encodeURIComponent(lot)}`);
      return r.status === 200 && r.json.records.length === 3;
    },
    90_000,
  );

  const page = await ctx.newPage();
  await page.setViewportSize({ width: 1440, height: 1250 }); // the whole dashboard in one screenshot
  await ctx.login(page);
  await page.getByLabel('言語').selectOption('en');

  // The line's yield today, as the API computes it, is what the yield tile shows.
  const win = today();
  const statsPath = `/api/v1/stats?line=${line}&since=${encodeURIComponent(win.since)}&until=${encodeURIComponent(win.until)}&bucket=hour`;
  let expected;
  await ctx.eventually(
    'the yield tile shows the API yield of the line today',
    async () => {
      const st = await ctx.api('GET', statsPath);
      ctx.assert.equal(st.status, 200, `stats: ${st.text}`);
      expected = st.json;
      await page.goto(`${ctx.cloudURL}/dashboard?line=${line}`);
      const tile = page.getByTestId('kpi-yield-value');
      await tile.waitFor({ timeout: 15_000 });
      const shown = (await tile.textContent())?.trim();
      const inspected = (await page.getByTestId('kpi-inspected-value').textContent())?.trim();
      ctx.log(`line ${line} today: API yield ${expected.yield} of ${expected.total} → tile "${shown}", inspected "${inspected}"`);
      return shown === pct(expected.yield) && inspected === num(expected.total);
    },
    60_000,
  );
  ctx.assert.ok(expected.total >= 3, `the line has at least our 3 records today, got ${expected.total}`);
  await waitChart(page, 'chart-trend');
  await ctx.shot(page, 'dashboard-en');
  await page.getByLabel('Language').selectOption('ja');
  await page.getByText('良品率とNG数の推移').waitFor();
  await waitChart(page, 'chart-trend');
  await ctx.shot(page, 'dashboard-ja');
  await page.getByLabel('言語').selectOption('en');

  // Narrowed to the test's lot: exactly 2 of 3.
  await page.goto(`${ctx.cloudURL}/dashboard?line=${line}&lot=${encodeURIComponent(lot)}`);
  await page.getByTestId('chip-lot').waitFor();
  await ctx.eventually('the lot view', async () => (await page.getByTestId('kpi-yield-value').textContent())?.trim() === pct(2 / 3), 15_000);
  ctx.assert.equal((await page.getByTestId('kpi-inspected-value').textContent())?.trim(), '3');
  ctx.assert.equal((await page.getByTestId('kpi-ng-value').textContent())?.trim(), '1');
  await waitChart(page, 'chart-line');
  await waitChart(page, 'chart-pareto');
  await ctx.shot(page, 'dashboard-lot-en');

  // Click the NG part of the line's bar (stacked on its 2 OK) → its NG records.
  const ngBar = await chartPoint(page, 'chart-line', 'ng', line, 2.5);
  await page.mouse.click(ngBar.x, ngBar.y);
  await page.waitForURL(/\/records\?/);
  const q = query(page.url());
  ctx.log('NG bar →', page.url());
  ctx.assert.deepEqual(q, { line, lot, verdict: 'NG', since: win.since, until: win.until });
  await page.waitForFunction(() => document.querySelector('a.nav-link.active')?.getAttribute('href') === '/records');
  await page.waitForTimeout(500);
  await ctx.shot(page, 'dashboard-drill-records');

  // The Pareto bar of the defect → that defect's NG records.
  await page.goBack();
  await waitChart(page, 'chart-pareto');
  const paretoBar = await chartPoint(page, 'chart-pareto', 'count', defect, 0.5);
  await page.mouse.click(paretoBar.x, paretoBar.y);
  await page.waitForURL(/defect_type=/);
  ctx.log('Pareto bar →', page.url());
  ctx.assert.deepEqual(query(page.url()), { line, lot, defect_type: defect, verdict: 'NG', since: win.since, until: win.until });
}
