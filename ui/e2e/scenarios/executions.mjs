// Executions: run the standard pipeline through the API on an image with
// defects, find it in the list filtered by status (a shareable URL), and
// read its detail: one timeline bar per node, the annotated image and a
// detections table.
import { readFile } from 'node:fs/promises';

export const title = 'executions: list filtered by status, detail with timeline, annotated image and detections';
export const order = 20;

export async function run(ctx) {
  const { assert } = ctx;
  const pipelines = await ctx.api('GET', '/api/v1/pipelines');
  assert.equal(pipelines.status, 200, pipelines.text);
  const standard = pipelines.json.pipelines.find((p) => p.name === 'standard' || p.definition?.name === 'standard');
  assert.ok(standard, 'the all-in-one creates the "standard" pipeline');

  const form = new FormData();
  form.append('file', new Blob([await readFile(ctx.fixture('models/detector/golden_0.png'))], { type: 'image/png' }), 'golden_0.png');
  const upload = await ctx.api('POST', '/api/v1/files', form);
  assert.ok(upload.status === 200 || upload.status === 201, `upload: ${upload.status} ${upload.text}`);

  const run = await ctx.api('POST', '/api/v1/executions?wait=true', { pipeline_id: standard.id, inputs: [upload.json.file_id] });
  assert.equal(run.status, 200, `execution: ${run.text}`);
  const exec = run.json;
  assert.equal(exec.status, 'succeeded', `execution ended ${exec.status}: ${exec.error ?? ''}`);
  const wantDetections = exec.nodes.flatMap((n) => n.outputs?.detections ?? []).length;
  assert.ok(wantDetections > 0, 'golden_0.png has defects the detector finds');
  ctx.log(`execution ${exec.execution_id}: ${exec.nodes.length} nodes, ${wantDetections} detections`);

  const page = await ctx.newPage();
  await ctx.login(page);
  await page.goto(`${ctx.cloudURL}/executions`);
  await page.getByTestId('executions-table').waitFor();

  // Filter by status: the filter goes into the URL and the list holds only succeeded runs.
  await page.locator('#f-status').selectOption('succeeded');
  await ctx.eventually('the status filter in the URL', async () => new URL(page.url()).searchParams.get('status') === 'succeeded');
  const link = page.locator(`[data-testid=execution-row] a[href="/executions/${exec.execution_id}"]`);
  await link.waitFor();
  await ctx.eventually('only succeeded executions listed', async () => {
    const states = await page.getByTestId('execution-row').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-status')));
    return states.length > 0 && states.every((s) => s === 'succeeded');
  });
  await ctx.shot(page, 'executions-list');

  // The filtered URL is shareable: a fresh load shows the same filter.
  await page.reload();
  await link.waitFor();
  assert.equal(await page.locator('#f-status').inputValue(), 'succeeded');

  await link.click();
  await page.waitForURL(`**/executions/${exec.execution_id}`);
  await page.getByTestId('timeline').waitFor();
  const nodeCount = standard.definition.nodes.length;
  assert.equal(await page.getByTestId('timeline-row').count(), nodeCount, 'one timeline row per node');
  assert.equal(await page.getByTestId('timeline-bar').count(), nodeCount, 'one timeline bar per node');
  const bars = await page.getByTestId('timeline-bar').evaluateAll((els) => els.map((e) => ({ status: e.getAttribute('data-status'), width: e.getBoundingClientRect().width })));
  assert.ok(bars.every((b) => b.status === 'succeeded' && b.width > 0), `bars: ${JSON.stringify(bars)}`);

  const img = page.locator('[data-testid=result-image] img');
  await img.waitFor();
  await ctx.eventually('the annotated image loaded', () => img.evaluate((el) => el.complete && el.naturalWidth > 0));
  await ctx.eventually('detection boxes over the image', async () => (await page.getByTestId('detection-box').count()) === wantDetections);
  assert.equal(await page.getByTestId('detection-row').count(), wantDetections, 'one table row per detection');
  await ctx.shot(page, 'execution-detail');

  await page.getByLabel('言語').selectOption('en');
  await page.getByRole('heading', { name: 'Timeline' }).waitFor();
  await ctx.shot(page, 'execution-detail-en');
}
