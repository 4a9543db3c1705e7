import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { cleanup, render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import i18n from '../../i18n';
import { TokenTable, tokenState, type TokenInfo } from './TokenTable';

const now = Date.parse('2026-05-01T12:00:00Z');
const at = (s: number) => new Date(now + s * 1000).toISOString();

const tokens: TokenInfo[] = [
  { token_id: 'aaaaaaaaaaaa', line: 'line-1', created_by: 'integrator', created_at: at(-60), expires_at: at(3600), state: 'active' },
  { token_id: 'bbbbbbbbbbbb', line: 'line-2', created_by: 'admin', created_at: at(-7200), expires_at: at(80000), state: 'used', used_at: at(-3600), device_id: 'press-07' },
  { token_id: 'cccccccccccc', line: 'line-3', created_by: 'admin', created_at: at(-90000), expires_at: at(-3600), state: 'expired' },
  { token_id: 'dddddddddddd', line: 'line-4', created_by: 'admin', created_at: at(-600), expires_at: at(3600), state: 'revoked', revoked_at: at(-120) },
  // Active when listed, expired since: shown as expired, no revoke.
  { token_id: 'eeeeeeeeeeee', line: 'line-5', created_by: 'admin', created_at: at(-4000), expires_at: at(-5), state: 'active' },
];

beforeAll(async () => {
  await i18n.changeLanguage('en');
});
afterEach(cleanup);

function row(id: string) {
  const r = document.querySelector<HTMLElement>(`tr[data-token="${id}"]`);
  if (!r) throw new Error(`no row ${id}`);
  return r;
}

describe('TokenTable', () => {
  it('shows each token state, expiry and enrolled device, never a token text', () => {
    render(<TokenTable tokens={tokens} now={now} />);
    expect(screen.getAllByTestId('token-row')).toHaveLength(5);
    expect(row('aaaaaaaaaaaa').dataset.state).toBe('active');
    expect(within(row('aaaaaaaaaaaa')).getByText('Active')).toBeTruthy();
    expect(within(row('aaaaaaaaaaaa')).getByText('Not used')).toBeTruthy();
    expect(within(row('aaaaaaaaaaaa')).getByText('in 1 hr.')).toBeTruthy();
    expect(within(row('aaaaaaaaaaaa')).getByText('by integrator')).toBeTruthy();
    expect(within(row('bbbbbbbbbbbb')).getByText('Used')).toBeTruthy();
    expect(within(row('bbbbbbbbbbbb')).getByText('press-07')).toBeTruthy();
    expect(within(row('cccccccccccc')).getByText('Expired')).toBeTruthy();
    expect(within(row('dddddddddddd')).getByText('Revoked')).toBeTruthy();
    expect(row('dddddddddddd').className).toContain('is-revoked');
    expect(row('eeeeeeeeeeee').dataset.state).toBe('expired');
    expect(screen.queryByTestId('revoke-token')).toBeNull();
  });

  it('offers revoke only for unused, unexpired tokens', async () => {
    const onRevoke = vi.fn();
    render(<TokenTable tokens={tokens} now={now} onRevoke={onRevoke} />);
    const buttons = screen.getAllByTestId('revoke-token');
    expect(buttons).toHaveLength(1);
    expect(within(row('aaaaaaaaaaaa')).getByTestId('revoke-token')).toBe(buttons[0]);
    await userEvent.click(buttons[0]!);
    expect(onRevoke).toHaveBeenCalledWith(tokens[0]);
  });

  it('derives expiry from the clock', () => {
    expect(tokenState(tokens[0]!, now)).toBe('active');
    expect(tokenState(tokens[0]!, Date.parse(tokens[0]!.expires_at))).toBe('expired');
    expect(tokenState(tokens[3]!, now + 1e9)).toBe('revoked');
  });
});
