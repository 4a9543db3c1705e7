// Users: administrators list accounts, create them with a role, reset
// passwords and disable accounts (never delete: actions stay attributable).
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { cloud, unwrap } from '../../api/client';
import { useSession } from '../../app/session';
import { Card, Empty, ErrorBanner, Loading, Modal, PageHeader } from '../../components/ui';
import { NewUserDialog } from './NewUserDialog';
import { ResetPasswordDialog } from './ResetPasswordDialog';
import { UsersTable, type User } from './UsersTable';
import './users.css';

export function UsersPage() {
  const { t } = useTranslation('users');
  const { session } = useSession();
  const [users, setUsers] = useState<User[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [creating, setCreating] = useState(false);
  const [resetting, setResetting] = useState<User | null>(null);
  const [disabling, setDisabling] = useState<User | null>(null);
  const [busy, setBusy] = useState(false);
  const gen = useRef(0);

  const load = useCallback(() => {
    const my = ++gen.current;
    unwrap(cloud.GET('/api/v1/users')).then(
      (r) => {
        if (my !== gen.current) return;
        setUsers(r.users);
        setError(null);
      },
      (e: unknown) => my === gen.current && setError(e),
    );
  }, []);
  useEffect(load, [load]);

  const active = useMemo(() => (users ?? []).filter((u) => !u.disabled).length, [users]);

  const disable = async () => {
    if (!disabling) return;
    setBusy(true);
    try {
      await unwrap(cloud.POST('/api/v1/users/{username}/disable', { params: { path: { username: disabling.username } } }));
      setNotice(t('disable.done', { name: disabling.username }));
      load();
    } catch (e) {
      setError(e);
    } finally {
      setDisabling(null);
      setBusy(false);
    }
  };

  return (
    <div className="page users-page">
      <PageHeader
        title={t('title')}
        subtitle={t('subtitle')}
        actions={
          <button className="btn btn-primary" onClick={() => setCreating(true)} data-testid="new-user">
            + {t('create.button')}
          </button>
        }
      />
      <ErrorBanner error={error} onRetry={load} />
      {notice && (
        <div className="banner banner-info" role="status" data-testid="users-notice">
          <span>{notice}</span>
          <button className="btn btn-sm btn-ghost" onClick={() => setNotice(null)} aria-label={t('actions.close', { ns: 'common' })}>
            ✕
          </button>
        </div>
      )}
      {users === null && !error ? (
        <Loading />
      ) : (
        <Card title={t('count', { count: users?.length ?? 0, active })}>
          {users?.length ? <UsersTable users={users} me={session?.username ?? ''} onReset={setResetting} onDisable={setDisabling} /> : <Empty />}
        </Card>
      )}

      {creating && (
        <NewUserDialog
          existing={(users ?? []).map((u) => u.username)}
          onClose={() => setCreating(false)}
          onCreated={(u) => {
            setCreating(false);
            setNotice(t('create.done', { name: u.username, role: t(`roles.${u.role}`, { ns: 'common' }) }));
            load();
          }}
        />
      )}
      {resetting && (
        <ResetPasswordDialog
          user={resetting}
          onClose={() => setResetting(null)}
          onDone={() => {
            setNotice(t('reset.done', { name: resetting.username }));
            setResetting(null);
          }}
        />
      )}
      {disabling && (
        <Modal
          title={t('disable.title', { name: disabling.username })}
          onClose={() => setDisabling(null)}
          footer={
            <>
              <button className="btn" onClick={() => setDisabling(null)}>
                {t('actions.cancel', { ns: 'common' })}
              </button>
              <button className="btn btn-danger" onClick={disable} disabled={busy} data-testid="confirm-disable">
                {busy ? t('disable.working') : t('disable.confirm')}
              </button>
            </>
          }
        >
          <p style={{ margin: 0 }}>{t('disable.body')}</p>
        </Modal>
      )}
    </div>
  );
}
