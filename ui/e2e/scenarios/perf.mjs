// Review list performance with 10,000 records: how long from a filter
// change (or "next page") until the list shows the new rows, measured in
// the browser (API + render). The numbers are logged and written to
// perf-records.json for docs/benchmarks.md; they are measured, never
// asserted (a loaded CI machine must not fail the suite).
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const title = 'performance: review list filters and paging over 10,000 records (measured, not asserted)';
export const order = 90;

const SAMPLES = 15;

function stats(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))];
  const r = (x) => Math.round(x * 10) / 10;
  return { n: s.length, p50: r(q(0.5)), p95: r(q(0.95)), min: r(s[0]), max: r(s[s.length - 1]), samples: xs.map(r) };
}

/**
 * measure runs change() in the page and resolves when the list has
 * committed a new page (data-version grows, data-state ready): commit_ms
 * is the time to the DOM update, paint_ms to the next animation frame
 * after it, api_ms the search request's own time (Resource Timing).
 */
async function measure(page, change) {
  return page.evaluate(async (changeSrc) => {
    const list = document.querySelector('[data-testid=records-list]');
    const v0 = Number(list.dataset.version);
    const done = () => Number(list.dataset.version) > v0 && list.dataset.state === 'ready';
    performance.clearResourceTimings();
    const committed = new Promise((resolve) => {
      const mo = new MutationObserver(() => {
        if (done()) {
          mo.disconnect();
          resolve(performance.now());
        }
      });
      mo.observe(list, { attributes: true, childList: true, subtree: true });
    });
    const t0 = performance.now();
    // eslint-disable-next-line no-new-func
    new Function(changeSrc)();
    const t1 = await committed;
    const t2 = await new Promise((r) => requestAnimationFrame(() => r(performance.now())));
    const api = performance.getEntriesByType('resource').filter((e) => e.name.includes('/api/v1/records?'));
    const last = api[api.length - 1];
    return { commit_ms: t1 - t0, paint_ms: t2 - t0, api_ms: last ? last.responseEnd - last.startTime : null, rows: list.querySelectorAll('tbody tr').length };
  }, change);
}

/** setSelect changes a <select> the way a user does (React listens to change). */
const setSelect = (id, value) => `const el = document.getElementById(${JSON.stringify(id)}); el.value = ${JSON.stringify(value)}; el.dispatchEvent(new Event('change', { bubbles: true }));`;
/** setText types into a text filter and presses Enter (applies at once, no debounce). */
const setText = (id, value) => `const el = document.getElementById(${JSON.stringify(id)});
  Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set.call(el, ${JSON.stringify(value)});
  el.dispatchEvent(new Event('input', { bubbles: true }));
  el.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true }));`;

export async function run(ctx) {
  await ctx.seedRecords(10_000);
  const total = await ctx.api('GET', '/api/v1/records?limit=1');
  ctx.assert.equal(total.status, 200, total.text);

  const page = await ctx.newPage();
  await ctx.login(page);
  await page.getByLabel('言語').selectOption('en');
  await page.goto(`${ctx.cloudURL}/records`);
  await page.locator('[data-testid=records-list][data-state=ready] tbody tr').first().waitFor();
  // One warm-up round trip of each kind (code paths, connections, statement caches).
  await measure(page, setSelect('f-verdict', 'NG'));
  await measure(page, setSelect('f-verdict', ''));

  // Filter changes: one control per sample, every sample a different query.
  const defectOption = await page.locator('#f-defect option').nth(1).getAttribute('value').catch(() => null);
  const changes = [
    ['verdict=NG', setSelect('f-verdict', 'NG')],
    ['line=L1', setText('f-line', 'L1')],
    ['acknowledged=no', setSelect('f-ack', 'no')],
    ['verdict=OK', setSelect('f-verdict', 'OK')],
    ['line=L2', setText('f-line', 'L2')],
    ['acknowledged=any', setSelect('f-ack', '')],
    ['verdict=any', setSelect('f-verdict', '')],
    ['line=L3', setText('f-line', 'L3')],
    ...(defectOption ? [[`defect_type=${defectOption}`, setSelect('f-defect', defectOption)], ['defect_type=any', setSelect('f-defect', '')]] : []),
    ['product=SEED-PCB', setText('f-product', 'SEED-PCB')],
    ['line=any', setText('f-line', '')],
    ['product=any', setText('f-product', '')],
  ];
  const filter = [];
  for (let i = 0; filter.length < SAMPLES; i++) {
    const [what, src] = changes[i % changes.length];
    const m = await measure(page, src);
    filter.push({ change: what, ...m });
  }
  ctx.log(`filter changes: ${filter.map((m) => `${m.change} ${m.paint_ms.toFixed(0)}ms/${m.rows}`).join(', ')}`);

  // Next page, from the first page of everything.
  await page.goto(`${ctx.cloudURL}/records`);
  await page.locator('[data-testid=records-list][data-state=ready] tbody tr').first().waitFor();
  const paging = [];
  for (let i = 0; i < SAMPLES; i++) {
    paging.push(await measure(page, `document.querySelector('[data-testid=page-next]').click();`));
  }
  const lastPage = await page.getByTestId('page-number').textContent();
  ctx.assert.ok(paging.every((m) => m.rows > 0), 'every page shows rows');
  await ctx.shot(page, 'records-perf-paged');

  const pick = (ms, k) => stats(ms.map((m) => m[k]).filter((x) => typeof x === 'number'));
  const result = {
    what: 'Review list: time from a filter change or "next page" click until the list shows the new rows, in headless Chromium against the all-in-one (API + render).',
    method: 'performance.now() in the page around the change; commit = MutationObserver sees the new page committed; paint = the next animation frame after it; api = Resource Timing of the GET /api/v1/records request.',
    records: 10_000,
    page_size: paging[0]?.rows,
    budget_ms: 200,
    user_agent: await page.evaluate(() => navigator.userAgent),
    filter_change: { commit_ms: pick(filter, 'commit_ms'), paint_ms: pick(filter, 'paint_ms'), api_ms: pick(filter, 'api_ms'), changes: filter.map((m) => m.change) },
    next_page: { commit_ms: pick(paging, 'commit_ms'), paint_ms: pick(paging, 'paint_ms'), api_ms: pick(paging, 'api_ms'), last_page: lastPage },
    measured_at: new Date().toISOString(),
  };
  const path = ctx.writeJSON ? await ctx.writeJSON('perf-records.json', result) : join(ctx.artifacts, 'perf-records.json');
  if (!ctx.writeJSON) await writeFile(path, JSON.stringify(result, null, 2));
  const line = (name, r) => `${name}: paint p50 ${r.paint_ms.p50} ms, p95 ${r.paint_ms.p95} ms (api p50 ${r.api_ms.p50} ms, p95 ${r.api_ms.p95} ms; n=${r.paint_ms.n})`;
  ctx.log(line('filter change', result.filter_change));
  ctx.log(line('next page', result.next_page));
  ctx.log(`budget ${result.budget_ms} ms (not asserted); written to ${path}`);
}
