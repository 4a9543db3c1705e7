import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { cleanup, render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import i18n from '../../i18n';
import { cloud } from '../../api/client';
import { NewUserDialog } from './NewUserDialog';
import { passwordProblem, usernameProblem } from './rules';
import { UsersTable, type User } from './UsersTable';

beforeAll(async () => {
  await i18n.changeLanguage('en');
});
afterEach(() => {
  cleanup();
  vi.restoreAllMocks();
});

const users: User[] = [
  { username: 'admin', role: 'admin', created_at: '2026-05-01T00:00:00Z', disabled: false, builtin: true },
  { username: 'boss', role: 'admin', created_at: '2026-05-01T00:00:00Z', disabled: false, builtin: false },
  { username: 'iris', role: 'integrator', created_at: '2026-05-02T00:00:00Z', disabled: false, builtin: false },
  { username: 'quinn', role: 'qa_manager', created_at: '2026-05-03T00:00:00Z', disabled: true, disabled_at: '2026-05-04T00:00:00Z', builtin: false },
];

function row(name: string): HTMLElement {
  const r = document.querySelector<HTMLElement>(`tr[data-user="${name}"]`);
  if (!r) throw new Error(`no row ${name}`);
  return r;
}

describe('rules', () => {
  it('follow the API for usernames', () => {
    expect(usernameProblem('iris.k')).toBeNull();
    expect(usernameProblem('line_3-a')).toBeNull();
    expect(usernameProblem('')).toBe('required');
    expect(usernameProblem('ab')).toBe('length');
    expect(usernameProblem('a'.repeat(64))).toBeNull();
    expect(usernameProblem('a'.repeat(65))).toBe('length');
    expect(usernameProblem('Iris')).toBe('chars');
    expect(usernameProblem('-iris')).toBe('chars');
    expect(usernameProblem('ir is')).toBe('chars');
    expect(usernameProblem('アイリス')).toBe('chars');
    expect(usernameProblem('iris', ['admin', 'iris'])).toBe('taken');
  });
  it('follow the API for passwords (UTF-8 bytes)', () => {
    expect(passwordProblem('')).toBe('required');
    expect(passwordProblem('x'.repeat(11))).toBe('short');
    expect(passwordProblem('x'.repeat(12))).toBeNull();
    expect(passwordProblem('パスワード1')).toBeNull(); // 6 characters but 16 bytes: the server counts bytes
    expect(passwordProblem('x'.repeat(1025))).toBe('long');
  });
});

describe('UsersTable', () => {
  it('shows roles, states and only the actions that make sense', () => {
    render(<UsersTable users={users} me="boss" onReset={() => {}} onDisable={() => {}} />);
    expect(screen.getAllByTestId('user-row')).toHaveLength(4);
    expect(within(row('iris')).getByText('Integrator')).toBeTruthy();
    expect(within(row('quinn')).getByText('QA manager')).toBeTruthy();
    expect(within(row('admin')).getByText('Administrator')).toBeTruthy();
    expect(within(row('admin')).getByText(/built-in/)).toBeTruthy();
    expect(within(row('boss')).getByText(/you/)).toBeTruthy();
    expect(within(row('iris')).getByText('Active')).toBeTruthy();
    expect(within(row('quinn')).getByText('Disabled')).toBeTruthy();
    // The built-in admin and oneself cannot be disabled; disabled accounts get no actions.
    expect(within(row('admin')).queryByTestId('disable-user')).toBeNull();
    expect(within(row('admin')).getByTestId('reset-password')).toBeTruthy();
    expect(within(row('boss')).queryByTestId('disable-user')).toBeNull();
    expect(within(row('iris')).getByTestId('disable-user')).toBeTruthy();
    expect(within(row('quinn')).queryByRole('button')).toBeNull();
  });

  it('hands the chosen user to the actions', async () => {
    const onReset = vi.fn();
    const onDisable = vi.fn();
    render(<UsersTable users={users} me="boss" onReset={onReset} onDisable={onDisable} />);
    await userEvent.click(within(row('iris')).getByTestId('disable-user'));
    expect(onDisable).toHaveBeenCalledWith(users[2]);
    await userEvent.click(within(row('iris')).getByTestId('reset-password'));
    expect(onReset).toHaveBeenCalledWith(users[2]);
  });

  it('speaks Japanese', async () => {
    await i18n.changeLanguage('ja');
    try {
      render(<UsersTable users={users} me="boss" onReset={() => {}} onDisable={() => {}} />);
      expect(within(row('iris')).getByText('インテグレーター')).toBeTruthy();
      expect(within(row('quinn')).getByText('無効')).toBeTruthy();
      expect(screen.getByText('ロール')).toBeTruthy();
    } finally {
      await i18n.changeLanguage('en');
    }
  });
});

describe('NewUserDialog', () => {
  it('validates inline and sends nothing until the form is valid', async () => {
    const post = vi.spyOn(cloud, 'POST');
    const onCreated = vi.fn();
    render(<NewUserDialog existing={['admin', 'iris']} onClose={() => {}} onCreated={onCreated} />);
    // Role names are translated.
    const role = screen.getByLabelText('Role') as HTMLSelectElement;
    expect([...role.options].map((o) => o.textContent)).toEqual(['Administrator', 'QA manager', 'Inspector', 'Integrator']);

    await userEvent.click(screen.getByTestId('create-user'));
    expect(screen.getByTestId('new-username-error').textContent).toBe('Enter a username.');
    expect(screen.getByTestId('new-password-error').textContent).toBe('Enter a password.');
    expect(post).not.toHaveBeenCalled();

    await userEvent.type(screen.getByLabelText('Username'), 'Iris');
    expect(screen.getByTestId('new-username-error').textContent).toMatch(/lower-case/);
    await userEvent.clear(screen.getByLabelText('Username'));
    await userEvent.type(screen.getByLabelText('Username'), 'iris');
    expect(screen.getByTestId('new-username-error').textContent).toBe('This username is already taken.');
    await userEvent.clear(screen.getByLabelText('Username'));
    await userEvent.type(screen.getByLabelText('Username'), 'iris.k');
    expect(screen.queryByTestId('new-username-error')).toBeNull();

    await userEvent.type(screen.getByLabelText('Password'), 'short-pass');
    expect(screen.getByTestId('new-password-error').textContent).toBe('Use at least 12 characters.');
    await userEvent.click(screen.getByTestId('create-user'));
    expect(post).not.toHaveBeenCalled();

    await userEvent.type(screen.getByLabelText('Password'), '-ok');
    expect(screen.queryByTestId('new-password-error')).toBeNull();
    await userEvent.selectOptions(role, 'integrator');
    expect(screen.getByText(/does not see inspection records/)).toBeTruthy();

    const created: User = { username: 'iris.k', role: 'integrator', created_at: '2026-05-05T00:00:00Z', disabled: false, builtin: false };
    post.mockResolvedValue({ data: created, error: undefined, response: new Response(null, { status: 201 }) } as never);
    await userEvent.click(screen.getByTestId('create-user'));
    expect(post).toHaveBeenCalledWith('/api/v1/users', { body: { username: 'iris.k', password: 'short-pass-ok', role: 'integrator' } });
    expect(onCreated).toHaveBeenCalledWith(created);
  });

  it('shows the server saying the name exists', async () => {
    vi.spyOn(cloud, 'POST').mockResolvedValue({ data: undefined, error: { status: 409, title: 'Conflict' }, response: new Response(null, { status: 409 }) } as never);
    render(<NewUserDialog existing={[]} onClose={() => {}} onCreated={() => {}} />);
    await userEvent.type(screen.getByLabelText('Username'), 'iris');
    await userEvent.type(screen.getByLabelText('Password'), 'a-long-password');
    await userEvent.click(screen.getByTestId('create-user'));
    expect((await screen.findByRole('alert')).textContent).toContain('This username is already taken.');
  });
});
