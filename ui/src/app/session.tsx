// The signed-in user: token, role and permissions from POST /api/v1/auth/login.
// Kept in localStorage until it expires so a reload stays signed in.
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { cloud, setBearer, unwrap, type CloudSchemas } from '../api/client';

export type Session = CloudSchemas['LoginResponse'];
const KEY = 'ifc.session';

interface SessionCtx {
  session: Session | null;
  can: (perm: string) => boolean;
  login: (username: string, password: string) => Promise<void>;
  logout: () => void;
}

const Ctx = createContext<SessionCtx | null>(null);

function restore(now = Date.now()): Session | null {
  try {
    const raw = localStorage.getItem(KEY);
    if (!raw) return null;
    const s = JSON.parse(raw) as Session;
    if (!s.token || Date.parse(s.expires_at) <= now) return null;
    return s;
  } catch {
    return null;
  }
}

export function SessionProvider({ children }: { children: ReactNode }) {
  const [session, setSession] = useState<Session | null>(() => restore());
  const logout = useCallback(() => {
    localStorage.removeItem(KEY);
    setSession(null);
  }, []);
  // Set synchronously during render so children's first requests carry the token.
  setBearer(session?.token ?? null, logout);
  useEffect(() => {
    if (!session) return;
    const ms = Date.parse(session.expires_at) - Date.now();
    const t = window.setTimeout(logout, Math.max(0, Math.min(ms, 2 ** 31 - 1)));
    return () => window.clearTimeout(t);
  }, [session, logout]);
  const login = useCallback(async (username: string, password: string) => {
    const s = await unwrap(cloud.POST('/api/v1/auth/login', { body: { username, password } }));
    localStorage.setItem(KEY, JSON.stringify(s));
    setBearer(s.token, logout);
    setSession(s);
  }, [logout]);
  const value = useMemo<SessionCtx>(() => ({
    session,
    can: (perm) => !!session?.permissions.includes(perm),
    login,
    logout,
  }), [session, login, logout]);
  return <Ctx.Provider value={value}>{children}</Ctx.Provider>;
}

export function useSession(): SessionCtx {
  const c = useContext(Ctx);
  if (!c) throw new Error('useSession outside SessionProvider');
  return c;
}
