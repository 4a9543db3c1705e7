// Leaving the editor with unsaved changes asks first: closing or reloading
// the tab (beforeunload) and in-app navigation. Under a data router
// (createBrowserRouter) in-app navigation — links, navigate(), back/forward —
// goes through react-router's useBlocker; the app's <BrowserRouter> has no
// blocker API, so there clicks on same-origin links are intercepted instead
// (the sidebar, "← Pipelines"); back/forward is then not guarded.
import { useContext, useEffect, useRef } from 'react';
import { UNSAFE_DataRouterContext, useBlocker } from 'react-router';

/** hasUnsavedChanges: whether leaving now would lose work. */
export function hasUnsavedChanges(s: { savedJSON: string | null; currentJSON: string; readOnly: boolean; empty: boolean }): boolean {
  if (s.readOnly) return false;
  // A new pipeline: only once something was drawn or named.
  if (s.savedJSON === null) return !s.empty;
  return s.savedJSON !== s.currentJSON;
}

interface Place {
  pathname: string;
  search: string;
}

/** leaves: whether going from one location to another leaves what is being edited (a hash change does not). */
export function leaves(from: Place, to: Place): boolean {
  return from.pathname !== to.pathname || from.search !== to.search;
}

/** linkTarget: the same-origin URL a click would follow in this tab, or null. */
export function linkTarget(e: Pick<MouseEvent, 'button' | 'metaKey' | 'ctrlKey' | 'shiftKey' | 'altKey' | 'defaultPrevented' | 'target'>, origin: string): URL | null {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return null;
  const a = e.target instanceof Element ? e.target.closest('a[href]') : null;
  if (!(a instanceof HTMLAnchorElement) || a.hasAttribute('download') || (a.target && a.target !== '_self')) return null;
  const url = new URL(a.href, origin);
  return url.origin === origin ? url : null;
}

interface GuardProps {
  /** when: there are unsaved changes. */
  when: boolean;
  message: string;
  /** allow: read at navigation time; true lets the editor's own navigation (after a save) through. */
  allow?: () => boolean;
  confirm?: (message: string) => boolean;
}

export function LeaveGuard(props: GuardProps) {
  const dataRouter = useContext(UNSAFE_DataRouterContext);
  useEffect(() => {
    if (!props.when) return;
    const onBeforeUnload = (e: BeforeUnloadEvent) => {
      e.preventDefault();
      e.returnValue = ''; // older browsers need it set
    };
    window.addEventListener('beforeunload', onBeforeUnload);
    return () => window.removeEventListener('beforeunload', onBeforeUnload);
  }, [props.when]);
  return dataRouter ? <RouterBlocker {...props} /> : <LinkGuard {...props} />;
}

function RouterBlocker({ when, message, allow, confirm = (m) => window.confirm(m) }: GuardProps) {
  const blocker = useBlocker(({ currentLocation, nextLocation }) => when && !allow?.() && leaves(currentLocation, nextLocation));
  const asked = useRef(false);
  useEffect(() => {
    if (blocker.state !== 'blocked') {
      asked.current = false;
      return;
    }
    if (asked.current) return;
    asked.current = true;
    if (confirm(message)) blocker.proceed();
    else blocker.reset();
  }, [blocker, message, confirm]);
  return null;
}

function LinkGuard({ when, message, allow, confirm = (m) => window.confirm(m) }: GuardProps) {
  useEffect(() => {
    if (!when) return;
    const onClick = (e: MouseEvent) => {
      const to = linkTarget(e, window.location.origin);
      if (!to || allow?.() || !leaves(window.location, to)) return;
      if (!confirm(message)) {
        e.preventDefault();
        e.stopPropagation();
      }
    };
    // Capture on the document runs before React's handlers on the root.
    document.addEventListener('click', onClick, true);
    return () => document.removeEventListener('click', onClick, true);
  }, [when, message, allow, confirm]);
  return null;
}
