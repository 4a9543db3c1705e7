import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { cleanup, render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import i18n from '../../i18n';
import { FleetTable, deviceState, type Device } from './FleetTable';
import { validLine } from './token';

const now = Date.parse('2026-05-01T12:00:00Z');
const ago = (s: number) => new Date(now - s * 1000).toISOString();

const devices: Device[] = [
  { device_id: 'press-01', name: 'Press 1', line: 'line-1', online: true, last_seen: ago(12), queued: 0, queued_bytes: 0, agent_version: '1.4.2', model_version: '1.0.0' },
  { device_id: 'press-02', name: 'press-02', line: 'line-2', online: false, last_seen: ago(3 * 3600), queued: 42, queued_bytes: 3 * 1024 * 1024, oldest_queued: ago(2 * 3600), agent_version: '1.4.1' },
  { device_id: 'old-box', name: 'Old box', line: 'line-1', online: false, queued: 0, queued_bytes: 0, revoked_at: ago(86400 * 3) },
];

beforeAll(async () => {
  await i18n.changeLanguage('en');
});
afterEach(cleanup);

function row(id: string): HTMLElement {
  const r = document.querySelector<HTMLElement>(`tr[data-device="${id}"]`);
  if (!r) throw new Error(`no row ${id}`);
  return r;
}

describe('FleetTable', () => {
  it('shows state, last seen, queue and versions of each device', () => {
    render(<FleetTable devices={devices} now={now} canManage={false} />);
    expect(screen.getAllByTestId('device-row')).toHaveLength(3);

    const p1 = within(row('press-01'));
    expect(p1.getByText('Press 1')).toBeTruthy();
    expect(p1.getByText('press-01')).toBeTruthy();
    expect(p1.getByText('Online')).toBeTruthy();
    expect(p1.getByText('12 sec. ago')).toBeTruthy();
    expect(p1.getByText('Empty')).toBeTruthy();
    expect(p1.getByText('1.4.2')).toBeTruthy();

    const p2 = row('press-02');
    // A device named by its id does not repeat it.
    expect(within(p2).getAllByText('press-02')).toHaveLength(1);
    expect(within(p2).getByText('Offline')).toBeTruthy();
    expect(within(p2).getByText('3 hr. ago')).toBeTruthy();
    expect(within(p2).getByText('42 queued')).toBeTruthy();
    expect(p2.textContent).toContain('3.0 MB');
    expect(within(p2).getByText('oldest 2 hr. ago')).toBeTruthy();
    // Records waiting for hours are flagged.
    expect(p2.querySelector('.queue-stale')).not.toBeNull();
    expect(within(p2).getByText('—')).toBeTruthy();

    const old = within(row('old-box'));
    expect(old.getByText('Revoked')).toBeTruthy();
    expect(old.getByText('Revoked 3 days ago')).toBeTruthy();
    expect(old.getByText('Never')).toBeTruthy();
    expect(row('old-box').dataset.state).toBe('revoked');

    // Read-only roles get no revoke buttons.
    expect(screen.queryByTestId('revoke-device')).toBeNull();
  });

  it('offers revoke to managers for devices not yet revoked', async () => {
    const onRevoke = vi.fn();
    render(<FleetTable devices={devices} now={now} canManage onRevoke={onRevoke} />);
    const buttons = screen.getAllByTestId('revoke-device');
    expect(buttons).toHaveLength(2);
    expect(within(row('old-box')).queryByTestId('revoke-device')).toBeNull();
    await userEvent.click(within(row('press-02')).getByTestId('revoke-device'));
    expect(onRevoke).toHaveBeenCalledWith(devices[1]);
  });

  it('speaks Japanese', async () => {
    await i18n.changeLanguage('ja');
    try {
      render(<FleetTable devices={devices.slice(0, 2)} now={now} canManage={false} />);
      expect(within(row('press-01')).getByText('オンライン')).toBeTruthy();
      expect(within(row('press-02')).getByText('42 件待ち')).toBeTruthy();
      expect(screen.getByText('最終通信')).toBeTruthy();
    } finally {
      await i18n.changeLanguage('en');
    }
  });
});

describe('deviceState', () => {
  it('puts revocation before the heartbeat', () => {
    expect(deviceState({ ...devices[0]!, revoked_at: ago(1) })).toBe('revoked');
    expect(deviceState(devices[0]!)).toBe('online');
    expect(deviceState(devices[1]!)).toBe('offline');
  });
});

describe('validLine', () => {
  it('follows the API rules', () => {
    expect(validLine('line-1')).toBe(true);
    expect(validLine('組立ライン3')).toBe(true);
    expect(validLine('')).toBe(false);
    expect(validLine('line 1')).toBe(false);
    expect(validLine('a/b')).toBe(false);
    expect(validLine('a\\b')).toBe(false);
    expect(validLine('x'.repeat(128))).toBe(true);
    expect(validLine('x'.repeat(129))).toBe(false);
  });
});
