// Results review: a record inspected at the edge syncs to the cloud; a QA
// manager finds it by lot, overrides it to NG with a reason (the audit
// entry appears), acknowledges it and moves with the keyboard.
export const title = 'results review: override with a reason, audit entry, acknowledge, keyboard next/previous';
export const order = 30;

async function inspect(ctx, lot, result) {
  const products = await ctx.edgeApi('GET', '/api/v1/products');
  ctx.assert.equal(products.status, 200, products.text);
  const product = products.json.products[0];
  ctx.assert.ok(product, 'the edge has a product master');
  const s = await ctx.edgeApi('POST', '/api/v1/sessions', { product_code: product.code, lot, inspector: 'e2e-inspector' });
  ctx.assert.equal(s.status, 201, s.text);
  const c = await ctx.edgeApi('POST', `/api/v1/sessions/${s.json.session_id}/captures`, {});
  ctx.assert.equal(c.status, 201, c.text);
  const v = await ctx.edgeApi('POST', `/api/v1/captures/${c.json.capture_id}/verdict`, { result });
  ctx.assert.ok(v.status === 201 || v.status === 200, v.text);
  return { product, recordId: v.json.record.record_id };
}

/** scrollTo brings a part of the (internally scrolling) detail pane into view for a screenshot. */
async function scrollDetailTo(page, testid) {
  await page.getByTestId(testid).evaluate((el) => el.scrollIntoView({ block: 'start' }));
}

export async function run(ctx) {
  const lot = `E2E-REVIEW-${Date.now().toString(36)}`;
  const a = await inspect(ctx, lot, 'OK');
  const b = await inspect(ctx, lot, 'OK');
  ctx.log(`inspected ${a.recordId} and ${b.recordId} in lot ${lot}`);
  await ctx.eventually('both records synced to the cloud', async () => {
    const r = await ctx.api('GET', `/api/v1/records?lot=${encodeURIComponent(lot)}`);
    return r.status === 200 && r.json.records.length === 2;
  }, 60_000);

  const page = await ctx.newPage();
  await ctx.login(page);
  await page.getByLabel('言語').selectOption('en');
  await page.goto(`${ctx.cloudURL}/records?lot=${encodeURIComponent(lot)}`);
  const list = page.getByTestId('records-list');
  await page.locator('[data-testid=records-list][data-state=ready] tbody tr').nth(1).waitFor();
  ctx.assert.equal(await list.locator('tbody tr').count(), 2, 'the lot filter from the URL shows the two records');
  ctx.assert.equal(await page.locator('#f-lot').inputValue(), lot, 'the filter bar shows the URL filter');

  // Keyboard: j selects the first (newest) record, j the next, k back.
  const rows = list.locator('tbody tr');
  const ids = [await rows.nth(0).getAttribute('data-record-id'), await rows.nth(1).getAttribute('data-record-id')];
  ctx.assert.deepEqual([...ids].sort(), [a.recordId, b.recordId].sort());
  const detailId = () => page.getByTestId('record-detail').getAttribute('data-record-id');
  await page.keyboard.press('j');
  await page.locator(`[data-testid=record-detail][data-record-id="${ids[0]}"]`).waitFor();
  await page.keyboard.press('j');
  await page.locator(`[data-testid=record-detail][data-record-id="${ids[1]}"]`).waitFor();
  ctx.assert.ok(page.url().includes(`/records/${ids[1]}`) && page.url().includes(`lot=${lot}`), `the URL names the record and keeps the filter: ${page.url()}`);
  await page.keyboard.press('ArrowUp');
  await page.locator(`[data-testid=record-detail][data-record-id="${ids[0]}"]`).waitFor();
  ctx.assert.equal(await detailId(), ids[0], 'k/ArrowUp goes back');
  // Shortcuts do not fire while typing in a filter.
  await page.locator('#f-device').focus();
  await page.keyboard.type('jk');
  ctx.assert.equal(await detailId(), ids[0], 'typing j/k in an input does not navigate');
  await page.locator('#f-device').fill('');
  await page.locator('#f-device').blur();
  await page.getByTestId('effective-verdict').click();

  // The record: image with the cloud's detection boxes, pre-filter, cloud result, edge verdict.
  await ctx.eventually('the cloud execution finished', async () => {
    const r = await ctx.api('GET', `/api/v1/records/${ids[0]}`);
    return r.json?.cloud?.execution && ['succeeded', 'failed'].includes(r.json.cloud.execution.status);
  }, 60_000);
  await page.reload();
  await page.locator(`[data-testid=record-detail][data-record-id="${ids[0]}"]`).waitFor();
  await page.locator('.rv-stage img').waitFor();
  ctx.assert.equal(await page.getByTestId('effective-verdict').getAttribute('data-verdict'), 'OK');
  await ctx.shot(page, 'records-review');

  // Override to NG with a reason: o/n open the form with the reason focused.
  await page.keyboard.press('n');
  const form = page.getByTestId('override-form');
  await form.waitFor();
  ctx.assert.equal(await page.evaluate(() => document.activeElement?.id), 'ov-reason', 'n focuses the reason');
  // Inline validation: no reason, no defect type.
  await page.keyboard.press('Enter');
  await form.locator('.field-error').first().waitFor();
  ctx.assert.ok((await form.locator('.field-error').count()) >= 2, 'missing defect type and reason are shown inline');
  await ctx.shot(page, 'records-override-invalid');
  const defect = await page.locator('#ov-defect option').nth(1).getAttribute('value');
  await page.locator('#ov-defect').selectOption(defect);
  const reason = `E2E review: ${defect} visible on the image`;
  await page.locator('#ov-reason').fill(reason);
  await page.locator('#ov-reason').press('Enter');
  await page.locator('[data-testid=effective-verdict][data-verdict=NG]').waitFor();
  const entry = page.locator('[data-testid=audit-entry][data-origin=cloud]', { hasText: reason });
  await entry.waitFor();
  ctx.assert.ok(await entry.locator('text=In force').count(), 'the new cloud override is marked in force');
  ctx.assert.equal(await rows.nth(0).getAttribute('data-verdict'), 'NG', 'the list row shows the new effective verdict');
  await rows.nth(0).getByTestId('marker-overridden').waitFor();
  const api = await ctx.api('GET', `/api/v1/records/${ids[0]}`);
  ctx.assert.equal(api.json.effective_verdict.result, 'ng');
  ctx.assert.equal(api.json.overrides.at(-1).reason, reason);
  await scrollDetailTo(page, 'audit-history');
  await ctx.shot(page, 'records-audit');

  // Acknowledge the current record with "a".
  await page.getByTestId('effective-verdict').click();
  await page.keyboard.press('a');
  await page.getByTestId('detail-acknowledged').waitFor();
  await rows.nth(0).getByTestId('marker-acknowledged').waitFor();
  // Bulk: select the other one with x and acknowledge the selection.
  await page.keyboard.press('j');
  await page.locator(`[data-testid=record-detail][data-record-id="${ids[1]}"]`).waitFor();
  await page.keyboard.press('x');
  ctx.assert.ok(await rows.nth(1).locator('input[type=checkbox]').isChecked(), 'x selects the current record');
  await page.getByTestId('acknowledge-selected').click();
  await rows.nth(1).getByTestId('marker-acknowledged').waitFor();
  await ctx.eventually('both acknowledged in the API', async () => {
    const r = await ctx.api('GET', `/api/v1/records?lot=${encodeURIComponent(lot)}&acknowledged=true`);
    return r.status === 200 && r.json.records.length === 2;
  }, 10_000);
  // The acknowledged filter, from the filter bar, into the URL.
  await page.keyboard.press('/');
  ctx.assert.equal(await page.evaluate(() => document.activeElement?.id), 'f-line', '/ focuses the filters');
  await page.locator('#f-ack').selectOption('no');
  await page.waitForURL(/acknowledged=no/);
  await page.locator('[data-testid=records-list][data-state=ready]').waitFor();
  await page.getByText('No records match these filters.').waitFor();
  await page.locator('#f-ack').selectOption('');
  await page.locator('[data-testid=records-list][data-state=ready] tbody tr').nth(1).waitFor();
  await ctx.shot(page, 'records-acknowledged');

  // Japanese too.
  await page.getByLabel('Language').selectOption('ja');
  await page.getByRole('heading', { name: '検査結果レビュー' }).waitFor();
  await ctx.shot(page, 'records-review-ja');
  await page.getByLabel('言語').selectOption('en');
}
