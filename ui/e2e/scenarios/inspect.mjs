// The inspector on the shop floor while the cloud is down: the edge agent's
// own UI (edge mode), live WHEP video from the synthetic camera, capture and
// an OK verdict saved locally as "queued", then — once the cloud is back —
// the same record shown as synced, and found in the cloud.
export const title = 'Inspector completes an inspection offline; it syncs when the cloud returns';
export const order = 60;

/** videoPlaying asserts the live <video> shows real frames and time advances. */
async function videoPlaying(ctx, page, what) {
  const video = page.getByTestId('live-video');
  await video.waitFor({ state: 'attached' });
  const first = await ctx.eventually(`${what}: live video has frames`, () =>
    video.evaluate((v) => (v.videoWidth > 0 && v.currentTime > 0 ? { w: v.videoWidth, h: v.videoHeight, t: v.currentTime } : null)),
  60_000);
  await ctx.eventually(`${what}: live video time advances`, () => video.evaluate((v, t0) => v.currentTime > t0 + 0.3, first.t), 15_000);
  ctx.log(`${what}: video ${first.w}x${first.h} playing`);
  return first;
}

export async function run(ctx) {
  const { assert } = ctx;
  const page = await ctx.newPage();
  const lot = `E2E-OFFLINE-${Date.now().toString(36).toUpperCase()}`;
  const inspector = 'e2e 検査員';

  // Start: the agent serves the UI in edge mode at its root.
  await page.goto(`${ctx.edgeURL}/`);
  await page.getByTestId('start-form').waitFor();
  const products = (await ctx.edgeApi('GET', '/api/v1/products')).json.products;
  assert.ok(products.length > 0, 'the edge knows at least one product');
  const product = products.find((p) => p.code === 'DEMO-PART') ?? products[0];
  await page.getByTestId(`product-${product.code}`).click();
  await page.locator('#insp-lot').fill(lot);
  await page.locator('#insp-inspector').fill(inspector);
  await ctx.shot(page, 'inspect-0-start');
  await page.getByTestId('start-session').click();
  await page.getByTestId('session-panel').waitFor();

  // Live view, cloud connected.
  await page.locator('[data-testid=status-strip][data-link=connected]').waitFor({ timeout: 30_000 });
  await videoPlaying(ctx, page, 'online');
  await ctx.shot(page, 'inspect-1-live');

  // The cloud goes away; the agent keeps running (the runner restarts it alone).
  await ctx.stopCloud();
  await page.locator('[data-testid=status-strip][data-link=offline]').waitFor({ timeout: 60_000 });
  await page.getByTestId('banner-cloud').waitFor();
  await videoPlaying(ctx, page, 'offline');
  await ctx.shot(page, 'inspect-2-offline');

  // Capture with the keyboard (Space), then OK with the keyboard (O).
  const capture = page.getByTestId('capture');
  await ctx.eventually('capture is enabled', () => capture.isEnabled(), 30_000);
  await page.keyboard.press('Space');
  await page.getByTestId('capture-image').waitFor({ timeout: 30_000 });
  await page.getByTestId('suggestion').waitFor();
  await ctx.eventually('the still is loaded', () => page.getByTestId('capture-image').evaluate((img) => img.complete && img.naturalWidth > 0), 15_000);
  await ctx.shot(page, 'inspect-3-verdict');

  const saved = page.waitForResponse((r) => /\/api\/v1\/captures\/[^/]+\/verdict$/.test(new URL(r.url()).pathname) && r.request().method() === 'POST');
  await page.keyboard.press('o');
  const res = await saved;
  assert.equal(res.status(), 201, 'the verdict is saved on the edge while the cloud is down');
  const recordId = (await res.json()).record.record_id;
  ctx.log(`record ${recordId} saved offline`);
  await page.getByTestId('saved-toast').waitFor();
  const row = page.locator(`[data-testid=record-row][data-record-id="${recordId}"]`);
  await row.waitFor({ timeout: 15_000 });
  assert.equal(await row.getAttribute('data-sync'), 'queued', 'the record shows as queued');
  assert.equal(await page.getByTestId('count-ok').textContent(), '1');
  const local = await ctx.edgeApi('GET', `/api/v1/records/${recordId}`);
  assert.equal(local.status, 200);
  assert.equal(local.json.synced, false, 'the edge has not synced it');
  await ctx.shot(page, 'inspect-4-queued');

  // The cloud returns: within 60 s the same row says synced, and the cloud has the record.
  await ctx.startCloud();
  await page.locator(`[data-testid=record-row][data-record-id="${recordId}"][data-sync=synced]`).waitFor({ timeout: 60_000 });
  await page.locator('[data-testid=status-strip][data-link=connected]').waitFor({ timeout: 30_000 });
  assert.equal(await page.getByTestId('banner-cloud').count(), 0, 'the offline banner is gone');
  const cloudRec = await ctx.eventually('the record in the cloud', async () => {
    const r = await ctx.api('GET', `/api/v1/records/${recordId}`);
    return r.status === 200 ? r.json : null;
  }, 30_000);
  assert.equal(cloudRec.record_id, recordId);
  assert.equal(cloudRec.lot, lot);
  await ctx.shot(page, 'inspect-5-synced');

  // The same screen in English.
  await page.getByRole('button', { name: 'EN', exact: true }).click();
  await page.getByText('Recent inspections').waitFor();
  await videoPlaying(ctx, page, 'after sync');
  await ctx.shot(page, 'inspect-6-synced-en');
}
