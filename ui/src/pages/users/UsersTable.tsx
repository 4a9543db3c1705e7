// UsersTable lists accounts with their role and state; active accounts
// other than the built-in admin and the viewer get reset and disable actions.
import { useTranslation } from 'react-i18next';
import type { CloudSchemas } from '../../api/client';
import { Badge, type Tone } from '../../components/ui';
import { formatDateTime } from '../../lib/format';

export type User = CloudSchemas['User'];

const roleTone: Record<string, Tone> = { admin: 'ng', qa_manager: 'info', inspector: 'ok', integrator: 'warn' };

/** RoleBadge shows a role in its translated name (common.roles). */
export function RoleBadge({ role }: { role: string }) {
  const { t } = useTranslation();
  return <Badge tone={roleTone[role] ?? 'neutral'}>{t(`roles.${role}`, { defaultValue: role })}</Badge>;
}

export function UsersTable({ users, me, onReset, onDisable }: { users: User[]; me: string; onReset: (u: User) => void; onDisable: (u: User) => void }) {
  const { t } = useTranslation('users');
  return (
    <table className="table users-table" data-testid="users-table">
      <thead>
        <tr>
          <th>{t('columns.username')}</th>
          <th>{t('columns.role')}</th>
          <th>{t('columns.status')}</th>
          <th>{t('columns.created')}</th>
          <th aria-label={t('columns.actions')} />
        </tr>
      </thead>
      <tbody>
        {users.map((u) => (
          <tr key={u.username} data-testid="user-row" data-user={u.username} data-state={u.disabled ? 'disabled' : 'active'} className={u.disabled ? 'is-disabled' : ''}>
            <td>
              <span className="user-name">{u.username}</span>
              {u.username === me && <span className="muted small"> · {t('you')}</span>}
              {u.builtin && <span className="muted small"> · {t('builtin')}</span>}
            </td>
            <td>
              <RoleBadge role={u.role} />
            </td>
            <td>
              {u.disabled ? (
                <Badge tone="neutral" title={formatDateTime(u.disabled_at)}>
                  {t('state.disabled')}
                </Badge>
              ) : (
                <Badge tone="ok">
                  <span className="dot" />
                  {t('state.active')}
                </Badge>
              )}
            </td>
            <td className="small">{formatDateTime(u.created_at)}</td>
            <td className="actions">
              {!u.disabled && (
                <>
                  <button className="btn btn-sm btn-ghost" onClick={() => onReset(u)} data-testid="reset-password">
                    {t('reset.button')}
                  </button>
                  {!u.builtin && u.username !== me && (
                    <button className="btn btn-sm btn-ghost danger-text" onClick={() => onDisable(u)} data-testid="disable-user">
                      {t('disable.button')}
                    </button>
                  )}
                </>
              )}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
