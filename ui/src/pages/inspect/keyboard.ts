// Keyboard shortcuts of the inspector screen. A hardware keypad or a
// keyboard beside the touch terminal drives the whole loop:
//   live:   Space / Enter          capture
//   review: 1 or O                 OK (saved at once)
//           2 or N                 NG (then pick the defect)
//           Esc                    retake (discard the still)
//   NG:     1..9                   pick defect type n
//           Enter                  save the NG verdict
//           Esc                    back (not NG after all)
// Shortcuts never fire while the inspector types in a field.

export type Mode = 'start' | 'live' | 'review' | 'ng' | 'busy';

export type Action =
  | { type: 'capture' }
  | { type: 'ok' }
  | { type: 'ng' }
  | { type: 'defect'; index: number }
  | { type: 'submit' }
  | { type: 'back' };

export interface KeyLike {
  key: string;
  ctrlKey?: boolean;
  metaKey?: boolean;
  altKey?: boolean;
  repeat?: boolean;
  isComposing?: boolean;
  target?: EventTarget | null;
}

/** isTypingTarget reports whether keys sent to el are text input. */
export function isTypingTarget(el: EventTarget | null | undefined): boolean {
  if (!el || typeof (el as Element).tagName !== 'string') return false;
  const e = el as HTMLElement;
  if (e.isContentEditable) return true;
  const tag = e.tagName.toLowerCase();
  if (tag === 'textarea' || tag === 'select') return true;
  if (tag !== 'input') return false;
  const type = ((e as HTMLInputElement).type || 'text').toLowerCase();
  return !['button', 'submit', 'reset', 'checkbox', 'radio', 'range', 'color', 'file', 'image'].includes(type);
}

/** actionFor maps a key press in mode to an action, or null when the key means nothing there. */
export function actionFor(e: KeyLike, mode: Mode): Action | null {
  if (e.ctrlKey || e.metaKey || e.altKey || e.isComposing) return null;
  if (isTypingTarget(e.target)) return null;
  const k = e.key.length === 1 ? e.key.toLowerCase() : e.key;
  switch (mode) {
    case 'live':
      if (e.repeat) return null; // holding Space must not fire a burst of captures
      return k === ' ' || k === 'Enter' ? { type: 'capture' } : null;
    case 'review':
      if (e.repeat) return null;
      if (k === '1' || k === 'o') return { type: 'ok' };
      if (k === '2' || k === 'n') return { type: 'ng' };
      if (k === 'Escape') return { type: 'back' };
      return null;
    case 'ng':
      if (/^[1-9]$/.test(k)) return { type: 'defect', index: Number(k) - 1 };
      if (k === 'Enter' && !e.repeat) return { type: 'submit' };
      if (k === 'Escape') return { type: 'back' };
      return null;
    default:
      return null;
  }
}

/** legend lists the shortcuts to show for mode: [keys, i18n key of what they do]. */
export function legend(mode: Mode): [string[], string][] {
  switch (mode) {
    case 'live':
      return [[['Space', 'Enter'], 'keys.capture']];
    case 'review':
      return [
        [['1', 'O'], 'keys.ok'],
        [['2', 'N'], 'keys.ng'],
        [['Esc'], 'keys.retake'],
      ];
    case 'ng':
      return [
        [['1', '…', '9'], 'keys.defect'],
        [['Enter'], 'keys.saveNg'],
        [['Esc'], 'keys.back'],
      ];
    default:
      return [];
  }
}
