// The pipeline canvas end to end: build a pipeline by dragging parts from
// the palette and connecting ports, see invalid and cyclic connections
// refused, set a parameter, save, run on an uploaded image and watch every
// node reach done, compare two versions, refuse to save a cyclic import,
// and measure frame times while dragging a node of a 50-node pipeline.
export const title = 'pipeline canvas: drag, connect, validate, save, run live, versions, YAML, 50-node performance';
export const order = 10;

const sel = {
  node: (id) => `[data-testid="node-${id}"]`,
  handle: (id, h) => `[data-testid="node-${id}"] [data-handleid="${h}"]`,
};

async function center(page, selector) {
  const b = await page.locator(selector).boundingBox();
  if (!b) throw new Error(`no box for ${selector}`);
  return { x: b.x + b.width / 2, y: b.y + b.height / 2 };
}

/** connect drags from one handle to another with the mouse, as a person would. */
async function connect(page, from, to) {
  const a = await center(page, from);
  const b = await center(page, to);
  await page.mouse.move(a.x, a.y);
  await page.mouse.down();
  const steps = 12;
  for (let i = 1; i <= steps; i++) await page.mouse.move(a.x + ((b.x - a.x) * i) / steps, a.y + ((b.y - a.y) * i) / steps);
  await page.waitForTimeout(120);
  await page.mouse.up();
}

async function dropPart(page, part, x, y) {
  await page.locator(`[data-testid="palette-${part}"]`).dragTo(page.getByTestId('canvas'), { targetPosition: { x, y } });
}

const edgeCount = (page) => page.locator('.react-flow__edge').count();

function cyclicYAML() {
  return ['name: cyclic', 'nodes:', '  - {id: a, part: resize}', '  - {id: b, part: gaussian_blur}', '  - {id: c, part: detect}',
    'edges:', '  - {from: a, to: b}', '  - {from: b, to: c}', '  - {from: c, to: a}', ''].join('\n');
}

/** fiftyNodeYAML: one resize feeding 7 branches of 6 filters and a detector (50 nodes). */
function fiftyNodeYAML() {
  const filters = ['gaussian_blur', 'median_blur', 'clahe', 'grayscale', 'morphology', 'gaussian_blur'];
  const lines = ['name: perf-50', 'nodes:', '  - {id: r, part: resize}'];
  const edges = ['edges:'];
  for (let b = 0; b < 7; b++) {
    let prev = 'r';
    for (let i = 0; i < 7; i++) {
      const id = `b${b}_${i}`;
      lines.push(`  - {id: ${id}, part: ${i === 6 ? 'detect' : filters[i]}}`);
      edges.push(`  - {from: ${prev}, to: ${id}}`);
      prev = id;
    }
  }
  return [...lines, ...edges, ''].join('\n');
}

export async function run(ctx) {
  const { assert } = ctx;
  const page = await ctx.newPage();
  await ctx.login(page);
  await page.evaluate(() => localStorage.setItem('ifc.lang', 'en'));

  // The list.
  await page.goto(`${ctx.cloudURL}/pipelines`);
  await page.getByTestId('new-pipeline').waitFor();
  await page.locator('.pipelines-table tbody tr').first().waitFor();
  await ctx.shot(page, 'canvas-01-pipeline-list');

  // A new pipeline from the palette.
  await page.getByTestId('new-pipeline').click();
  await page.getByTestId('pipeline-editor').waitFor();
  const name = `e2e-canvas-${Date.now()}`;
  await page.getByLabel('Pipeline name').fill(name);
  await dropPart(page, 'resize', 110, 160);
  await dropPart(page, 'gaussian_blur', 320, 330);
  await dropPart(page, 'detect', 500, 160);
  await dropPart(page, 'grayscale', 320, 560);
  for (const id of ['resize', 'gaussian_blur', 'detect', 'grayscale']) await page.locator(sel.node(id)).waitFor();
  // Bring every node into view before wiring them by hand.
  await page.getByRole('button', { name: 'Auto-layout' }).click();
  await page.waitForTimeout(500);

  // Connect handle to handle.
  await connect(page, sel.handle('resize', 'out:image'), sel.handle('gaussian_blur', 'in:image'));
  await connect(page, sel.handle('gaussian_blur', 'out:image'), sel.handle('detect', 'in:image'));
  await ctx.eventually('two edges', async () => (await edgeCount(page)) === 2);

  // Invalid: detections into an image input is refused as it is dragged.
  await connect(page, sel.handle('detect', 'out:detections'), sel.handle('grayscale', 'in:image'));
  const refusedType = await page.getByTestId('connect-refused').getAttribute('data-code');
  assert.equal(refusedType, 'typeMismatch', 'a detections → image connection is refused');
  assert.equal(await edgeCount(page), 2, 'the refused edge was not added');
  // A cycle attempt is refused too.
  await connect(page, sel.handle('detect', 'out:image'), sel.handle('resize', 'in:image'));
  await ctx.eventually('cycle refusal', async () => (await page.getByTestId('connect-refused').getAttribute('data-code')) === 'cycle', 3000);
  assert.equal(await edgeCount(page), 2, 'the cyclic edge was not added');
  ctx.log('refused:', refusedType, 'and cycle');

  // Remove the spare node again.
  await page.locator(sel.node('grayscale')).click();
  await page.getByRole('button', { name: 'Delete node' }).click();
  await ctx.eventually('grayscale removed', async () => (await page.locator(sel.node('grayscale')).count()) === 0);
  await page.getByRole('button', { name: 'Auto-layout' }).click();
  await page.waitForTimeout(400);

  // Parameters: out of range blocks Save, a valid value is kept typed.
  await page.locator(sel.node('resize')).click();
  const width = page.locator('#p-resize-width');
  await width.fill('9000');
  await page.getByTestId('param-error-width').waitFor();
  assert.ok(await page.getByTestId('save').isDisabled(), 'Save is blocked while a parameter is invalid');
  await page.getByTestId('problems-pill').click().catch(() => undefined);
  await ctx.shot(page, 'canvas-03-param-invalid');
  await width.fill('800');
  await ctx.eventually('error cleared', async () => (await page.getByTestId('param-error-width').count()) === 0);
  await ctx.shot(page, 'canvas-02-editor-param-panel');

  // Save → version 1.
  await page.getByTestId('save').click();
  await page.waitForURL(/\/pipelines\/[0-9a-f-]{36}$/);
  const pipelineId = page.url().split('/').pop();
  await page.locator(sel.node('detect')).waitFor();
  const v1 = await ctx.api('GET', `/api/v1/pipelines/${pipelineId}`);
  assert.equal(v1.status, 200);
  assert.equal(v1.json.version, 1);
  assert.equal(v1.json.definition.nodes.find((n) => n.id === 'resize').params.width, 800, 'the typed width was saved');
  assert.deepEqual(v1.json.definition.edges, [{ from: 'resize', to: 'gaussian_blur' }, { from: 'gaussian_blur', to: 'detect' }]);

  // Run on an image uploaded through the UI.
  await page.getByRole('tab', { name: 'Run' }).click();
  await page.getByTestId('run-upload').setInputFiles(ctx.fixture('models/detector/golden_0.png'));
  await ctx.eventually('upload', async () => (await page.locator('.recent.chosen').count()) === 1);
  await page.getByTestId('run').click();
  await page.getByTestId('run-state').waitFor();
  await ctx.shot(page, 'canvas-04-running');
  for (const id of ['resize', 'gaussian_blur', 'detect']) {
    await ctx.eventually(`${id} done`, async () => (await page.locator(sel.node(id)).getAttribute('data-status')) === 'succeeded', 60_000);
  }
  await page.getByTestId('run-result').waitFor();
  const boxes = Number(await page.getByTestId('detection-count').getAttribute('data-count'));
  assert.ok(boxes > 0, `the annotated result has boxes, got ${boxes}`);
  await ctx.eventually('annotated image loaded', () => page.locator('.result-img').evaluate((img) => img.tagName === 'IMG' && img.complete && img.naturalWidth > 0));
  await ctx.eventually('node thumbnails', async () => (await page.locator('.pnode-thumb').evaluateAll((els) => els.filter((e) => e.tagName === 'IMG').length)) === 3);
  const execHref = await page.getByTestId('execution-link').getAttribute('href');
  assert.match(execHref, /^\/executions\/.+/);
  ctx.log(`run done: ${boxes} detections, ${execHref}`);
  await ctx.shot(page, 'canvas-05-run-done');

  // Version 2 and the diff.
  await page.getByRole('tab', { name: 'Properties' }).click();
  await page.locator(sel.node('gaussian_blur')).click();
  await page.locator('#p-gaussian_blur-ksize').fill('3');
  await page.getByTestId('save').click();
  await page.getByRole('status').filter({ hasText: 'version 2' }).waitFor();
  await page.getByRole('tab', { name: 'Versions' }).click();
  await page.getByTestId('version-diff').waitFor();
  const diffText = await page.getByTestId('version-diff').innerText();
  assert.match(diffText, /ksize/, 'the diff names the changed parameter');
  await ctx.shot(page, 'canvas-06-version-diff');
  // An old version opens read-only.
  await page.goto(`${ctx.cloudURL}/pipelines/${pipelineId}?version=1`);
  await page.getByTestId('readonly-banner').waitFor();
  assert.equal(await page.getByTestId('save').count(), 0, 'no Save on a read-only version');

  // A cyclic definition is refused on import and cannot be saved.
  await page.goto(`${ctx.cloudURL}/pipelines/${pipelineId}`);
  await page.locator(sel.node('detect')).waitFor();
  await page.getByRole('button', { name: 'Import YAML' }).click();
  await page.getByTestId('import-text').fill(cyclicYAML());
  await page.getByTestId('import-apply').click();
  await page.getByTestId('import-errors').waitFor();
  assert.match(await page.getByTestId('import-errors').innerText(), /Cycle: a → b → c → a/);
  assert.equal(await page.locator(sel.node('detect')).count(), 1, 'the canvas is untouched by a refused import');
  await page.getByTestId('import-anyway').click();
  await page.locator(sel.node('c')).waitFor();
  assert.ok(await page.getByTestId('save').isDisabled(), 'a cyclic graph cannot be saved');
  assert.match(await page.getByTestId('problems').innerText(), /Cycle/);
  await ctx.shot(page, 'canvas-07-cycle-blocked');
  // The server says the same.
  const server = await ctx.api('POST', `/api/v1/pipelines/${pipelineId}/versions`, {
    name: 'cyclic', nodes: [{ id: 'a', part: 'resize' }, { id: 'b', part: 'gaussian_blur' }], edges: [{ from: 'a', to: 'b' }, { from: 'b', to: 'a' }],
  });
  assert.equal(server.status, 422);
  assert.match(JSON.stringify(server.json.problems), /cycle/);

  // Unsaved changes (the cyclic import): leaving asks first — an in-app link
  // asks with a confirm (refused: the editor stays), closing or reloading the
  // page with the browser's beforeunload prompt (accepted here).
  const dialogs = [];
  const onDialog = (d) => {
    dialogs.push(d.type());
    void (d.type() === 'confirm' ? d.dismiss() : d.accept()).catch(() => undefined);
  };
  page.on('dialog', onDialog);
  await page.locator('.editor-bar a[href="/pipelines"]').click();
  await ctx.eventually('leave confirm', async () => dialogs.includes('confirm'), 3000);
  assert.equal(await page.locator(sel.node('c')).count(), 1, 'refusing to discard keeps the editor');

  // The canvas in Japanese: part titles, descriptions and parameter labels.
  await page.evaluate(() => localStorage.setItem('ifc.lang', 'ja'));
  await page.goto(`${ctx.cloudURL}/pipelines/${pipelineId}`);
  await page.locator(sel.node('gaussian_blur')).waitFor();
  assert.deepEqual(dialogs, ['confirm', 'beforeunload'], 'leaving with unsaved changes asked twice');
  page.off('dialog', onDialog);
  assert.equal((await page.locator('[data-testid="palette-gaussian_blur"] .palette-title').innerText()).trim(), 'ガウシアンぼかし');
  assert.equal((await page.locator(`${sel.node('gaussian_blur')} .pnode-title`).innerText()).trim(), 'ガウシアンぼかし');
  await page.locator(sel.node('gaussian_blur')).click();
  await page.getByTestId('node-panel').getByText('カーネルサイズ（奇数）').waitFor();
  await ctx.shot(page, 'canvas-07b-japanese');
  await page.evaluate(() => localStorage.setItem('ifc.lang', 'en'));

  // Performance: 50 nodes, drag one, measure frames.
  await page.goto(`${ctx.cloudURL}/pipelines/new`);
  await page.getByTestId('pipeline-editor').waitFor();
  await page.getByRole('button', { name: 'Import YAML' }).click();
  await page.getByTestId('import-text').fill(fiftyNodeYAML());
  await page.getByTestId('import-apply').click();
  await ctx.eventually('50 nodes', async () => (await page.locator('.react-flow__node').count()) === 50);
  await page.waitForTimeout(500);
  await ctx.shot(page, 'canvas-08-fifty-nodes');
  const target = await center(page, `${sel.node('b3_3')} .pnode-head`);
  await page.evaluate(() => {
    window.__frames = [];
    window.__measuring = true;
    const tick = (t) => {
      window.__frames.push(t);
      if (window.__measuring) requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
  await page.mouse.move(target.x, target.y);
  await page.mouse.down();
  const t0 = Date.now();
  for (let i = 1; i <= 90; i++) {
    await page.mouse.move(target.x + Math.sin(i / 8) * 160, target.y + i * 2);
  }
  await page.mouse.up();
  const dragMs = Date.now() - t0;
  const frames = await page.evaluate(() => {
    window.__measuring = false;
    const f = window.__frames;
    return f.slice(1).map((t, i) => t - f[i]);
  });
  frames.sort((a, b) => a - b);
  const pct = (p) => frames[Math.min(frames.length - 1, Math.floor((p / 100) * frames.length))];
  const perf = {
    nodes: 50,
    moves: 90,
    drag_ms: dragMs,
    frames: frames.length,
    mean_frame_ms: +(frames.reduce((a, b) => a + b, 0) / frames.length).toFixed(2),
    p50_frame_ms: +pct(50).toFixed(2),
    p95_frame_ms: +pct(95).toFixed(2),
    max_frame_ms: +frames[frames.length - 1].toFixed(2),
    long_frames_over_50ms: frames.filter((f) => f > 50).length,
  };
  ctx.log('canvas drag with 50 nodes:', JSON.stringify(perf));
  if (ctx.writeJSON) await ctx.writeJSON('canvas-perf.json', perf);
  // Headless Chromium renders in software on a 2-core CI box, so only the
  // median is asserted (>= 30 fps while dragging); p95/max are logged.
  assert.ok(perf.p50_frame_ms < 34, `dragging stays smooth (median frame ${perf.p50_frame_ms} ms)`);
  await page.context().close();
}
