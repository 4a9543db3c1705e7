import { afterEach, describe, expect, it, vi } from 'vitest';
import { act, cleanup, fireEvent, render, renderHook, screen, waitFor } from '@testing-library/react';
import i18n from '../../../i18n';
import type { EdgeClient } from '../../../api/client';
import type { EdgeStatus } from '../status';
import { AgentNotice } from './AgentNotice';
import { AGENT_EVENT, useOnAgentReady, type DesktopAgent } from './desktop';
import { FirstRun } from './FirstRun';

await i18n.changeLanguage('en');
afterEach(() => {
  cleanup();
  delete window.__IFC_DESKTOP__;
});

const status = {
  queued: 2, sync_running: true, sync_connected: false,
  sync: { enrolled: false, revoked: false, connected: false, cloud_addr: 'cloud:9090' },
} as unknown as EdgeStatus;

/** edgeWith fakes the one call FirstRun makes, answering with status and body. */
function edgeWith(status: number, body: unknown) {
  const POST = vi.fn(async () => ({
    data: status < 300 ? body : undefined,
    error: status >= 300 ? body : undefined,
    response: new Response(null, { status }),
  }));
  return { edge: { POST } as unknown as EdgeClient, POST };
}

describe('FirstRun', () => {
  it('enrolls with the token and the configured cloud', async () => {
    const { edge, POST } = edgeWith(200, { device_id: 'dev-1', line: 'L1' });
    const onEnrolled = vi.fn();
    render(<FirstRun edge={edge} status={status} onEnrolled={onEnrolled} onSkip={() => {}} />);
    expect((screen.getByTestId('enroll-cloud') as HTMLInputElement).value).toBe('cloud:9090');
    fireEvent.change(screen.getByTestId('enroll-token'), { target: { value: ' ifcenr_abc ' } });
    fireEvent.click(screen.getByTestId('enroll-submit'));
    await waitFor(() => expect(onEnrolled).toHaveBeenCalled());
    expect(POST).toHaveBeenCalledWith('/api/v1/sync/enroll', { body: { token: 'ifcenr_abc' } });
    expect(screen.getByTestId('enroll-done').textContent).toContain('dev-1');
  });

  it('sends a changed cloud address and shows the refusal', async () => {
    const { edge, POST } = edgeWith(502, { title: 'Bad Gateway', detail: 'token expired' });
    render(<FirstRun edge={edge} status={status} onEnrolled={() => {}} onSkip={() => {}} />);
    fireEvent.change(screen.getByTestId('enroll-token'), { target: { value: 'ifcenr_x' } });
    fireEvent.change(screen.getByTestId('enroll-cloud'), { target: { value: 'other:9090' } });
    fireEvent.click(screen.getByTestId('enroll-submit'));
    await waitFor(() => expect(screen.getByTestId('enroll-error').textContent).toContain('token expired'));
    expect(POST).toHaveBeenCalledWith('/api/v1/sync/enroll', { body: { token: 'ifcenr_x', cloud_url: 'other:9090' } });
  });

  it('checks the form before calling the agent', () => {
    const { edge, POST } = edgeWith(200, {});
    render(<FirstRun edge={edge} status={status} onEnrolled={() => {}} onSkip={() => {}} />);
    fireEvent.click(screen.getByTestId('enroll-submit'));
    expect(screen.getByText('Enter the token.')).toBeTruthy();
    expect(POST).not.toHaveBeenCalled();
  });
});

describe('AgentNotice', () => {
  const failed: DesktopAgent = {
    phase: 'failed', pid: null, reason: 'port 127.0.0.1:8081 is taken', output_tail: ['listen: address already in use'], restarts: 3,
    next_attempt_ms: 4000, binary: '/usr/bin/ifc', agent_config: '', http_addr: '127.0.0.1:8081',
  };
  it('shows nothing in a browser', () => {
    const { container } = render(<AgentNotice />);
    expect(container.innerHTML).toBe('');
  });
  it('follows the state the desktop app pushes', () => {
    window.__IFC_DESKTOP__ = { app_version: '0.1.0', cloud_addr: '', agent: { ...failed, phase: 'running', reason: '' } };
    const { container } = render(<AgentNotice />);
    expect(container.innerHTML).toBe('');
    act(() => {
      window.dispatchEvent(new CustomEvent(AGENT_EVENT, { detail: failed }));
    });
    expect(screen.getByTestId('desktop-agent-reason').textContent).toBe('port 127.0.0.1:8081 is taken');
    expect(screen.getByTestId('desktop-agent-output').textContent).toContain('address already in use');
    expect(screen.getByTestId('desktop-agent-failed').textContent).toContain('(defaults)');
    // A restart attempt keeps the failure on screen; ready hides it.
    act(() => {
      window.dispatchEvent(new CustomEvent(AGENT_EVENT, { detail: { ...failed, phase: 'starting', pid: 42 } }));
    });
    expect(screen.getByTestId('desktop-agent-retry').textContent).toContain('starting again');
    act(() => {
      window.dispatchEvent(new CustomEvent(AGENT_EVENT, { detail: { ...failed, phase: 'running', reason: '', output_tail: [] } }));
    });
    expect(screen.queryByTestId('desktop-agent-failed')).toBeNull();
  });
});

describe('useOnAgentReady', () => {
  it('fires when the agent becomes ready, not for other states', () => {
    const fn = vi.fn();
    renderHook(() => useOnAgentReady(fn));
    const push = (phase: string) => act(() => {
      window.dispatchEvent(new CustomEvent(AGENT_EVENT, { detail: { phase } }));
    });
    push('starting');
    push('failed');
    expect(fn).not.toHaveBeenCalled();
    push('running');
    expect(fn).toHaveBeenCalledTimes(1);
  });
});
