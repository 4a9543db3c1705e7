// Helpers shared by the end-to-end runners of the web UI (ui/e2e/run.mjs)
// and of the desktop app (tauri/e2e/run.mjs): free ports, polling, JSON over
// HTTP and child processes whose output goes to the artifacts dir.
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** freePort returns a loopback TCP port nobody listens on right now. */
export async function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

/** eventually polls fn until it returns something truthy, and returns that. */
export async function eventually(desc, fn, timeoutMs = 30_000, everyMs = 100) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${desc}${last ? `: ${last.message}` : ''}`);
    await sleep(everyMs);
  }
}

/** http sends body (JSON, or FormData as multipart) and returns {status, json, text, headers}. */
export async function http(base, token, method, path, body) {
  const headers = {};
  let payload;
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body instanceof FormData) payload = body;
  else if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  const res = await fetch(base + path, { method, headers, body: payload });
  const text = await res.text();
  let json;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text, headers: res.headers };
}

/** Proc is a child process with its output appended to <dir>/<name>.log. */
export class Proc {
  constructor(name, cmd, args, env = {}, { dir, log = () => {} } = {}) {
    Object.assign(this, { name, cmd, args, env, dir, log });
  }
  start() {
    this.logPath = join(this.dir, `${this.name}.log`);
    const out = createWriteStream(this.logPath, { flags: 'a' });
    this.child = spawn(this.cmd, this.args, { env: { ...process.env, ...this.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout.pipe(out);
    this.child.stderr.pipe(out);
    this.exited = new Promise((res) => this.child.once('exit', (code, sig) => res({ code, sig })));
    this.log(`started ${this.name} (pid ${this.child.pid}): ${this.cmd} ${this.args.join(' ')}`);
    return this;
  }
  text() {
    return this.logPath && existsSync(this.logPath) ? readFileSync(this.logPath, 'utf8') : '';
  }
  async stop() {
    if (!this.child || this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    if (!(await Promise.race([this.exited, sleep(20_000).then(() => null)]))) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
    this.log(`stopped ${this.name}`);
  }
}
