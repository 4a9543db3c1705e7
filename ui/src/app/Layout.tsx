import { NavLink, Outlet } from 'react-router';
import { useTranslation } from 'react-i18next';
import { languages, setLanguage, type Language } from '../i18n';
import { useSession } from './session';
import { useServices } from './context';

export interface NavItem {
  to: string;
  key: string;
  icon: string; // SVG path data, 24×24
  perm?: string;
  edgeOnly?: boolean;
}

/** navItems is the navigation; each entry shows only to roles holding perm. */
export const navItems: NavItem[] = [
  { to: '/dashboard', key: 'dashboard', icon: 'M3 13h4v8H3zM10 8h4v13h-4zM17 3h4v18h-4z', perm: 'records:read' },
  { to: '/pipelines', key: 'pipelines', icon: 'M4 5h6v5H4zM14 14h6v5h-6zM7 10v4h10M17 14v-1', perm: 'pipelines:read' },
  { to: '/executions', key: 'executions', icon: 'M7 4l12 8-12 8z', perm: 'executions:read' },
  { to: '/records', key: 'records', icon: 'M4 4h16v16H4zM8 12l3 3 5-6', perm: 'records:read' },
  { to: '/fleet', key: 'fleet', icon: 'M3 5h18v11H3zM8 20h8M12 16v4', perm: 'devices:read' },
  { to: '/users', key: 'users', icon: 'M9 11a4 4 0 1 0 0-8 4 4 0 0 0 0 8zM2 21v-1a6 6 0 0 1 6-6h2a6 6 0 0 1 6 6v1M16 3.5a4 4 0 0 1 0 7M19 14a5 5 0 0 1 3 5v2', perm: 'users:manage' },
  { to: '/inspect', key: 'inspect', icon: 'M12 8a4 4 0 1 0 0 8 4 4 0 0 0 0-8zM3 7h3l2-3h8l2 3h3v13H3z', edgeOnly: true },
];

/** Icon draws a navigation icon from an SVG path (no icon font: the edge box is offline). */
function Icon({ d }: { d: string }) {
  return (
    <svg className="nav-icon" viewBox="0 0 24 24" width="18" height="18" fill="none" stroke="currentColor" strokeWidth="1.8" strokeLinejoin="round" strokeLinecap="round" aria-hidden>
      <path d={d} />
    </svg>
  );
}

export function visibleNav(can: (p: string) => boolean, hasEdge: boolean): NavItem[] {
  return navItems.filter((n) => (n.perm ? can(n.perm) : true) && (!n.edgeOnly || hasEdge));
}

export function Layout() {
  const { t, i18n } = useTranslation();
  const { session, can, logout } = useSession();
  const { edge } = useServices();
  return (
    <div className="shell">
      <nav className="sidebar" aria-label="main">
        <div className="brand">
          <span className="brand-mark">IF</span>
          {t('app')}
        </div>
        {visibleNav(can, edge !== null).map((n) => (
          <NavLink key={n.to} to={n.to} className={({ isActive }) => `nav-link${isActive ? ' active' : ''}`}>
            <Icon d={n.icon} />
            {t(`nav.${n.key}`)}
          </NavLink>
        ))}
        <div className="sidebar-foot">
          {session && (
            <div>
              <div style={{ color: '#fff', fontWeight: 600 }}>{session.username}</div>
              <div>{t(`roles.${session.role}`)}</div>
            </div>
          )}
          <label className="row">
            {t('language')}
            <select aria-label={t('language')} value={i18n.language} onChange={(e) => setLanguage(e.target.value as Language)}>
              {languages.map((l) => (
                <option key={l} value={l}>
                  {l === 'ja' ? '日本語' : 'English'}
                </option>
              ))}
            </select>
          </label>
          {session && (
            <button className="btn btn-sm" onClick={logout}>
              {t('logout')}
            </button>
          )}
        </div>
      </nav>
      <main className="main">
        <Outlet />
      </main>
    </div>
  );
}
