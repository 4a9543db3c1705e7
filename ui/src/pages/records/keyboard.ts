// Keyboard review: pure mapping from key events to actions, and the
// next/previous step across pages. The page wires these to the DOM.

export type KeyAction = 'next' | 'prev' | 'overrideOK' | 'overrideNG' | 'acknowledge' | 'toggleSelect' | 'focusFilters';

/** The parts of a KeyboardEvent the mapping looks at (easy to build in tests). */
export interface KeyInput {
  key: string;
  ctrlKey?: boolean;
  metaKey?: boolean;
  altKey?: boolean;
  shiftKey?: boolean;
  repeat?: boolean;
  target?: EventTarget | null;
  defaultPrevented?: boolean;
}

/** shortcuts, in the order the legend lists them. */
export const shortcuts: { keys: string[]; action: KeyAction }[] = [
  { keys: ['j', 'ArrowDown'], action: 'next' },
  { keys: ['k', 'ArrowUp'], action: 'prev' },
  { keys: ['o'], action: 'overrideOK' },
  { keys: ['n'], action: 'overrideNG' },
  { keys: ['a'], action: 'acknowledge' },
  { keys: ['x'], action: 'toggleSelect' },
  { keys: ['/'], action: 'focusFilters' },
];

const byKey = new Map<string, KeyAction>(shortcuts.flatMap((s) => s.keys.map((k) => [k, s.action] as const)));

/**
 * isTyping tells whether the event target takes text (or is a control that
 * uses the same keys), in which case shortcuts must not fire.
 */
export function isTyping(target: EventTarget | null | undefined): boolean {
  if (!target || typeof target !== 'object') return false;
  const el = target as { tagName?: unknown; isContentEditable?: unknown; type?: unknown; closest?: unknown };
  if (el.isContentEditable === true) return true;
  const tag = typeof el.tagName === 'string' ? el.tagName.toUpperCase() : '';
  if (tag === 'TEXTAREA' || tag === 'SELECT') return true;
  if (tag === 'INPUT') {
    const type = typeof el.type === 'string' ? el.type.toLowerCase() : 'text';
    // Checkboxes and buttons take no text: shortcuts still work there
    // (radios and ranges own the arrow keys).
    if (['checkbox', 'button', 'submit', 'reset', 'color'].includes(type)) return inOwnArea(el);
    return true;
  }
  return inOwnArea(el);
}

/** inOwnArea: dialogs and areas marked data-shortcuts="off" (the override form) own their keys. */
function inOwnArea(el: { closest?: unknown }): boolean {
  if (typeof el.closest === 'function') {
    return (el.closest as (s: string) => Element | null).call(el, '[role=dialog],[data-shortcuts="off"]') !== null;
  }
  return false;
}

/** keyAction is the review action for a key event, or null when it is not a review shortcut (or the user is typing). */
export function keyAction(e: KeyInput): KeyAction | null {
  if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey) return null;
  if (isTyping(e.target)) return null;
  const a = byKey.get(e.key) ?? null;
  // No shifted letters ('/' may need shift on some layouts, arrows may carry it).
  if (a && e.shiftKey && e.key.length === 1 && /[a-z]/.test(e.key)) return null;
  // Held keys repeat navigation only; a held "a" must not acknowledge twice.
  if (a && e.repeat && a !== 'next' && a !== 'prev') return null;
  return a;
}

/** Step is the outcome of next/previous on the current page. */
export type Step =
  | { kind: 'select'; index: number }
  | { kind: 'nextPage' }
  | { kind: 'prevPage' }
  | { kind: 'none' };

/**
 * step moves the selection by dir on a page of count rows. With nothing
 * selected, next picks the first row and previous the last. Past the end
 * it asks for the next page (when there is one); before the start, for the
 * previous page.
 */
export function step(current: number, dir: 1 | -1, count: number, hasNext: boolean, hasPrev: boolean): Step {
  if (count === 0) return dir === 1 ? (hasNext ? { kind: 'nextPage' } : { kind: 'none' }) : hasPrev ? { kind: 'prevPage' } : { kind: 'none' };
  if (current < 0 || current >= count) return { kind: 'select', index: dir === 1 ? 0 : count - 1 };
  const i = current + dir;
  if (i >= count) return hasNext ? { kind: 'nextPage' } : { kind: 'none' };
  if (i < 0) return hasPrev ? { kind: 'prevPage' } : { kind: 'none' };
  return { kind: 'select', index: i };
}

/** toggle adds id to or removes it from a selection set (returning a new set). */
export function toggle(set: ReadonlySet<string>, id: string): Set<string> {
  const next = new Set(set);
  if (next.has(id)) next.delete(id);
  else next.add(id);
  return next;
}
