// End-to-end tests of the web UI in real headless Chromium (Debian's
// /usr/bin/chromium driven by playwright-core) against a running
// all-in-one started from the built `ifc` binary, which embeds the UI.
//
//   IFC_BIN=~/.cache/ifc/build/ifc IFC_SEED_BIN=~/.cache/ifc/build/ifc-seed node e2e/run.mjs [scenario ...]
//
// Scenarios are the modules in e2e/scenarios (export title, order, run(ctx)),
// run in order; pass names to run only some. Screenshots, logs and
// measurements go to $IFC_E2E_ARTIFACTS (default $IFC_CACHE/artifacts/ui).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { eventually, freePort, http, Proc, sleep } from './lib.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..');
const cache = process.env.IFC_CACHE ?? join(process.env.HOME ?? '/root', '.cache', 'ifc');
const artifacts = process.env.IFC_E2E_ARTIFACTS ?? join(cache, 'artifacts', 'ui');
const bin = process.env.IFC_BIN ?? join(cache, 'build', 'ifc');
const seedBin = process.env.IFC_SEED_BIN ?? join(cache, 'build', 'ifc-seed');
const password = 'e2e-admin-password';
const only = process.argv.slice(2);

const log = (...a) => console.log(`[e2e ${new Date().toISOString().slice(11, 23)}]`, ...a);
const procOpts = { dir: artifacts, log };

async function waitReady(url, desc) {
  await eventually(desc, async () => (await fetch(url)).ok, 90_000);
}

async function main() {
  await mkdir(artifacts, { recursive: true });
  for (const f of await readdir(artifacts)) if (f.endsWith('.png') || f.endsWith('.log') || f.endsWith('.json')) await rm(join(artifacts, f));
  const data = await mkdtemp(join(tmpdir(), 'ifc-e2e-'));
  const [apiPort, grpcPort, edgePort] = [await freePort(), await freePort(), await freePort()];
  const cloudURL = `http://127.0.0.1:${apiPort}`;
  const edgeURL = `http://127.0.0.1:${edgePort}`;
  const env = { IFC_ADMIN_PASSWORD: password };
  const common = ['--data-dir', data, '--http-addr', `127.0.0.1:${apiPort}`, '--grpc-addr', `127.0.0.1:${grpcPort}`];

  // Phase 1: the all-in-one as a user runs it. Phase 2 (stopCloud): the
  // same edge agent alone on the same data, the cloud gone; startCloud
  // brings the cloud back without its own edge.
  let cloud = new Proc('all-in-one', bin, ['all-in-one', ...common, '--edge-http-addr', `127.0.0.1:${edgePort}`], env, procOpts);
  let edge = null;
  const procs = () => [cloud, edge].filter(Boolean);
  cloud.start();
  let token;
  const browser = await chromium.launch({
    executablePath: process.env.IFC_CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--use-fake-ui-for-media-stream'],
  });
  const results = [];
  try {
    await waitReady(`${cloudURL}/readyz`, 'the cloud API');
    await waitReady(`${edgeURL}/readyz`, 'the edge agent');
    const login = async () => {
      const r = await http(cloudURL, null, 'POST', '/api/v1/auth/login', { username: 'admin', password });
      assert.equal(r.status, 200, `login: ${r.text}`);
      token = r.json.token;
    };
    await login();
    let seeded = false;
    const ctx = {
      cloudURL,
      edgeURL,
      admin: { username: 'admin', password },
      assert,
      log,
      eventually,
      sleep,
      artifacts,
      fixture: (p) => join(repo, p),
      async api(method, path, body) {
        const r = await http(cloudURL, token, method, path, body);
        if (r.status !== 401) return r;
        await login(); // tokens last 15 minutes; the run may be longer
        return http(cloudURL, token, method, path, body);
      },
      edgeApi: (method, path, body) => http(edgeURL, null, method, path, body),
      async newPage(opts = {}) {
        const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: opts.locale ?? 'ja-JP', ...opts });
        const page = await context.newPage();
        page.on('pageerror', (e) => log(`page error: ${e.message}`));
        page.on('console', (m) => m.type() === 'error' && log(`console: ${m.text()}`));
        return page;
      },
      async login(page, creds = { username: 'admin', password }) {
        await page.goto(`${cloudURL}/`);
        await page.locator('#username').fill(creds.username);
        await page.locator('#password').fill(creds.password);
        await page.locator('button[type=submit]').click();
        await page.locator('nav[aria-label=main]').waitFor();
      },
      async shot(page, name) {
        const path = join(artifacts, `${name}.png`);
        // The app scrolls inside .main, not the page: grow the viewport to
        // the content for the picture, then put it back.
        const vp = page.viewportSize();
        const h = await page.evaluate(() => document.querySelector('.main')?.scrollHeight ?? 0).catch(() => 0);
        const grow = vp && h > vp.height;
        if (grow) await page.setViewportSize({ width: vp.width, height: Math.min(h, 4000) });
        await page.screenshot({ path, fullPage: true });
        if (grow) await page.setViewportSize(vp);
        log(`screenshot ${path}`);
        return path;
      },
      async writeJSON(name, value) {
        const path = join(artifacts, name);
        await writeFile(path, JSON.stringify(value, null, 2));
        return path;
      },
      async stopCloud() {
        await cloud.stop();
        edge = new Proc('edge', bin, ['edge', '--config', join(data, 'edge-e2e.yaml')], {}, procOpts);
        await writeFile(join(data, 'edge-e2e.yaml'), [
          `data_dir: ${join(data, 'edge')}`,
          `http_addr: 127.0.0.1:${edgePort}`,
          `cloud_addr: 127.0.0.1:${grpcPort}`,
          'line: demo-line',
          'camera: "synthetic:"',
          'sync_backoff_max: 2s',
        ].join('\n') + '\n');
        edge.start();
        await waitReady(`${edgeURL}/readyz`, 'the edge agent alone');
      },
      async startCloud() {
        cloud = new Proc('cloud', bin, ['all-in-one', ...common, '--no-edge'], { ...env, IFC_UI_EDGE_URL: edgeURL }, procOpts);
        cloud.start();
        await waitReady(`${cloudURL}/readyz`, 'the cloud API again');
        await login();
      },
      /** seedRecords commits n records on lines L1..L3 over the real sync protocol (once). */
      async seedRecords(n = 10_000) {
        if (seeded) return;
        const t0 = Date.now();
        await new Promise((res, rej) => {
          const p = spawn(seedBin, ['-http', cloudURL, '-grpc', `127.0.0.1:${grpcPort}`, '-password', password, '-records', String(n), '-image', join(repo, 'models/prefilter/golden_0.png')], { stdio: 'inherit' });
          p.once('exit', (code) => (code === 0 ? res() : rej(new Error(`seed exited ${code}`))));
        });
        seeded = true;
        log(`seeded ${n} records in ${Date.now() - t0} ms`);
      },
    };

    const files = (await readdir(join(here, 'scenarios'))).filter((f) => f.endsWith('.mjs'));
    const scenarios = [];
    for (const f of files) {
      const m = await import(join(here, 'scenarios', f));
      scenarios.push({ name: basename(f, '.mjs'), title: m.title ?? f, order: m.order ?? 50, run: m.run });
    }
    scenarios.sort((a, b) => a.order - b.order || a.name.localeCompare(b.name));
    for (const s of scenarios) {
      if (only.length && !only.includes(s.name)) continue;
      const t0 = Date.now();
      log(`▶ ${s.name}: ${s.title}`);
      try {
        await s.run(ctx);
        results.push({ name: s.name, ok: true, ms: Date.now() - t0 });
        log(`✔ ${s.name} (${Date.now() - t0} ms)`);
      } catch (e) {
        results.push({ name: s.name, ok: false, ms: Date.now() - t0, error: String(e?.stack ?? e) });
        log(`✘ ${s.name}: ${e?.stack ?? e}`);
        for (const c of browser.contexts()) for (const [i, p] of c.pages().entries()) await p.screenshot({ path: join(artifacts, `FAILED-${s.name}-${i}.png`), fullPage: true }).catch(() => {});
      } finally {
        for (const c of browser.contexts()) await c.close().catch(() => {});
      }
    }
  } finally {
    await browser.close().catch(() => {});
    for (const p of procs()) await p.stop();
    if (!process.env.IFC_E2E_KEEP) await rm(data, { recursive: true, force: true });
  }
  await writeFile(join(artifacts, 'results.json'), JSON.stringify(results, null, 2));
  const failed = results.filter((r) => !r.ok);
  log(`${results.length - failed.length} passed, ${failed.length} failed; artifacts in ${artifacts}`);
  if (results.length === 0) {
    log('no scenario ran');
    process.exit(1);
  }
  process.exit(failed.length ? 1 : 0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
