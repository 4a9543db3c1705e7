// What the station remembers between pieces and reloads (localStorage):
// the last start-screen choices, and the running session with its counts.
import type { EdgeSchemas } from '../../api/client';

export type Session = EdgeSchemas['SessionJSON'];

export interface Choices {
  product_code: string;
  lot: string;
  serial: string;
  inspector: string;
}

export interface StoredSession {
  session: Session;
  ok: number;
  ng: number;
  /** Stable id of this run at the station; the agent's session id changes when it is renewed. */
  run: string;
}

const CHOICES = 'ifc.inspect.choices';
const SESSION = 'ifc.inspect.session';

function read<T>(key: string): T | null {
  try {
    const raw = localStorage.getItem(key);
    return raw ? (JSON.parse(raw) as T) : null;
  } catch {
    return null;
  }
}

function write(key: string, v: unknown): void {
  try {
    if (v === null) localStorage.removeItem(key);
    else localStorage.setItem(key, JSON.stringify(v));
  } catch {
    // storage full or disabled: the station still works, it just forgets
  }
}

export function loadChoices(): Choices {
  const c = read<Partial<Choices>>(CHOICES) ?? {};
  const s = (v: unknown) => (typeof v === 'string' ? v : '');
  return { product_code: s(c.product_code), lot: s(c.lot), serial: s(c.serial), inspector: s(c.inspector) };
}

export function saveChoices(c: Choices): void {
  write(CHOICES, c);
}

export function loadSession(): StoredSession | null {
  const s = read<StoredSession>(SESSION);
  if (!s || typeof s.session?.session_id !== 'string') return null;
  return { session: s.session, ok: Number(s.ok) || 0, ng: Number(s.ng) || 0, run: typeof s.run === 'string' ? s.run : s.session.session_id };
}

export function saveSession(s: StoredSession | null): void {
  write(SESSION, s);
}
