import { act, cleanup, fireEvent, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createMemoryRouter, Link, MemoryRouter, Route, RouterProvider, Routes } from 'react-router';
import { hasUnsavedChanges, LeaveGuard, leaves } from './leaveGuard';

afterEach(cleanup);

describe('hasUnsavedChanges', () => {
  const saved = '{"name":"a","nodes":[]}';
  it('is false for a saved pipeline left as it was', () => {
    expect(hasUnsavedChanges({ savedJSON: saved, currentJSON: saved, readOnly: false, empty: false })).toBe(false);
  });
  it('is true once a saved pipeline was edited', () => {
    expect(hasUnsavedChanges({ savedJSON: saved, currentJSON: '{"name":"b","nodes":[]}', readOnly: false, empty: false })).toBe(true);
    // Removing every node is a change too.
    expect(hasUnsavedChanges({ savedJSON: saved, currentJSON: '{"name":"","nodes":[]}', readOnly: false, empty: true })).toBe(true);
  });
  it('is false for a new, untouched pipeline and true once something is drawn or named', () => {
    expect(hasUnsavedChanges({ savedJSON: null, currentJSON: '{}', readOnly: false, empty: true })).toBe(false);
    expect(hasUnsavedChanges({ savedJSON: null, currentJSON: '{}', readOnly: false, empty: false })).toBe(true);
  });
  it('is false for a read-only version', () => {
    expect(hasUnsavedChanges({ savedJSON: saved, currentJSON: '{}', readOnly: true, empty: false })).toBe(false);
    expect(hasUnsavedChanges({ savedJSON: null, currentJSON: '{}', readOnly: true, empty: false })).toBe(false);
  });
});

describe('leaves', () => {
  it('counts a path or query change, not a hash change', () => {
    expect(leaves({ pathname: '/pipelines/1', search: '' }, { pathname: '/pipelines', search: '' })).toBe(true);
    expect(leaves({ pathname: '/pipelines/1', search: '' }, { pathname: '/pipelines/1', search: '?version=1' })).toBe(true);
    expect(leaves({ pathname: '/pipelines/1', search: '' }, { pathname: '/pipelines/1', search: '' })).toBe(false);
  });
});

function Editor({ when, confirm, allow }: { when: boolean; confirm: (m: string) => boolean; allow?: () => boolean }) {
  return (
    <>
      <LeaveGuard when={when} message="Discard?" confirm={confirm} allow={allow} />
      <Link to="/pipelines">back</Link>
      <p>editor</p>
    </>
  );
}

describe('LeaveGuard', () => {
  it('asks before a link leaves, and stays when refused (BrowserRouter-style router)', () => {
    const confirm = vi.fn(() => false);
    render(
      <MemoryRouter initialEntries={['/pipelines/1']}>
        <Routes>
          <Route path="/pipelines/1" element={<Editor when confirm={confirm} />} />
          <Route path="/pipelines" element={<p>list</p>} />
        </Routes>
      </MemoryRouter>,
    );
    fireEvent.click(screen.getByText('back'));
    expect(confirm).toHaveBeenCalledWith('Discard?');
    expect(screen.getByText('editor')).toBeTruthy();
    confirm.mockReturnValue(true);
    fireEvent.click(screen.getByText('back'));
    expect(screen.getByText('list')).toBeTruthy();
  });

  it('does not ask without unsaved changes', () => {
    const confirm = vi.fn(() => false);
    render(
      <MemoryRouter initialEntries={['/pipelines/1']}>
        <Routes>
          <Route path="/pipelines/1" element={<Editor when={false} confirm={confirm} />} />
          <Route path="/pipelines" element={<p>list</p>} />
        </Routes>
      </MemoryRouter>,
    );
    fireEvent.click(screen.getByText('back'));
    expect(screen.getByText('list')).toBeTruthy();
    expect(confirm).not.toHaveBeenCalled();
  });

  it('blocks navigation under a data router until confirmed; allow() lets it through', async () => {
    const confirm = vi.fn(() => false);
    let allowed = false;
    const router = createMemoryRouter(
      [
        { path: '/pipelines/1', element: <Editor when confirm={confirm} allow={() => allowed} /> },
        { path: '/pipelines', element: <p>list</p> },
      ],
      { initialEntries: ['/pipelines/1'] },
    );
    render(<RouterProvider router={router} />);
    await act(() => router.navigate('/pipelines'));
    expect(confirm).toHaveBeenCalledTimes(1);
    expect(router.state.location.pathname).toBe('/pipelines/1');
    allowed = true;
    await act(() => router.navigate('/pipelines'));
    expect(confirm).toHaveBeenCalledTimes(1);
    expect(router.state.location.pathname).toBe('/pipelines');
  });

  it('asks the browser before the tab is closed or reloaded', () => {
    const { rerender } = render(
      <MemoryRouter>
        <LeaveGuard when message="Discard?" />
      </MemoryRouter>,
    );
    const ev = new Event('beforeunload', { cancelable: true });
    window.dispatchEvent(ev);
    expect(ev.defaultPrevented).toBe(true);
    rerender(
      <MemoryRouter>
        <LeaveGuard when={false} message="Discard?" />
      </MemoryRouter>,
    );
    const ev2 = new Event('beforeunload', { cancelable: true });
    window.dispatchEvent(ev2);
    expect(ev2.defaultPrevented).toBe(false);
  });
});
