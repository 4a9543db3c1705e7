// A minimal W3C WebDriver client over fetch: just what the desktop e2e
// needs to drive the real app through tauri-driver (no webdriverio: one file,
// no dependency to install).
const ELEMENT = 'element-6066-11e4-a52e-4cf35cc4a5c5';

export class WebDriver {
  constructor(base) {
    this.base = base.replace(/\/$/, '');
    this.sid = null;
  }

  /** cmd sends one command; a command that takes longer than timeoutMs fails (a hung driver never hangs the test). */
  async cmd(method, path, body, timeoutMs = 90_000) {
    const res = await fetch(this.base + path, {
      method,
      signal: AbortSignal.timeout(timeoutMs),
      headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 300)}`);
    }
    if (!res.ok || (json.value && json.value.error)) {
      const v = json.value ?? {};
      throw new Error(`${method} ${path}: ${v.error ?? res.status}: ${v.message ?? text.slice(0, 300)}`);
    }
    return json.value;
  }

  s(path) {
    if (!this.sid) throw new Error('no WebDriver session');
    return `/session/${this.sid}${path}`;
  }

  /** newSession starts the app (tauri:options.application) and returns the session id. */
  async newSession(application, args = []) {
    const v = await this.cmd('POST', '/session', { capabilities: { alwaysMatch: { 'tauri:options': { application, args } } } });
    this.sid = v.sessionId;
    return v;
  }

  async deleteSession() {
    if (!this.sid) return;
    try {
      await this.cmd('DELETE', `/session/${this.sid}`);
    } finally {
      this.sid = null;
    }
  }

  /** exec runs a synchronous script in the page: `return ...` gives the value. */
  exec(script, ...args) {
    return this.cmd('POST', this.s('/execute/sync'), { script, args });
  }

  async find(css) {
    const v = await this.cmd('POST', this.s('/element'), { using: 'css selector', value: css });
    const id = v[ELEMENT] ?? v.ELEMENT ?? Object.values(v)[0];
    if (!id) throw new Error(`find ${css}: unexpected answer ${JSON.stringify(v)}`);
    return id;
  }

  click(id) {
    return this.cmd('POST', this.s(`/element/${id}/click`), {});
  }

  type(id, text) {
    return this.cmd('POST', this.s(`/element/${id}/value`), { text });
  }

  /** screenshot returns the window's PNG bytes. */
  async screenshot() {
    return Buffer.from(await this.cmd('GET', this.s('/screenshot')), 'base64');
  }
}
