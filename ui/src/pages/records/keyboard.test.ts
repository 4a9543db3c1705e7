import { describe, expect, it } from 'vitest';
import { isTyping, keyAction, step, toggle } from './keyboard';

const el = (html: string) => {
  const d = document.createElement('div');
  d.innerHTML = html;
  document.body.appendChild(d);
  return d.firstElementChild as HTMLElement;
};

describe('keyAction', () => {
  it('maps review keys', () => {
    expect(keyAction({ key: 'j' })).toBe('next');
    expect(keyAction({ key: 'ArrowDown' })).toBe('next');
    expect(keyAction({ key: 'k' })).toBe('prev');
    expect(keyAction({ key: 'ArrowUp' })).toBe('prev');
    expect(keyAction({ key: 'o' })).toBe('overrideOK');
    expect(keyAction({ key: 'n' })).toBe('overrideNG');
    expect(keyAction({ key: 'a' })).toBe('acknowledge');
    expect(keyAction({ key: 'x' })).toBe('toggleSelect');
    expect(keyAction({ key: '/' })).toBe('focusFilters');
    expect(keyAction({ key: 'q' })).toBeNull();
    expect(keyAction({ key: 'Enter' })).toBeNull();
  });

  it('ignores modified and shifted keys', () => {
    expect(keyAction({ key: 'j', ctrlKey: true })).toBeNull();
    expect(keyAction({ key: 'a', metaKey: true })).toBeNull();
    expect(keyAction({ key: 'n', altKey: true })).toBeNull();
    expect(keyAction({ key: 'J', shiftKey: true })).toBeNull();
    expect(keyAction({ key: 'j', defaultPrevented: true })).toBeNull();
  });

  it('repeats navigation only', () => {
    expect(keyAction({ key: 'j', repeat: true })).toBe('next');
    expect(keyAction({ key: 'a', repeat: true })).toBeNull();
    expect(keyAction({ key: 'n', repeat: true })).toBeNull();
  });

  it('never fires while typing', () => {
    for (const html of ['<input>', '<input type="search">', '<input type="date">', '<textarea></textarea>', '<select><option>a</option></select>', '<div contenteditable="true"></div>', '<input type="radio">']) {
      const target = el(html);
      if (html.includes('contenteditable')) Object.defineProperty(target, 'isContentEditable', { value: true });
      expect(isTyping(target), html).toBe(true);
      expect(keyAction({ key: 'j', target }), html).toBeNull();
    }
  });

  it('fires on checkboxes, buttons and rows, but not inside the override form or a dialog', () => {
    expect(keyAction({ key: 'x', target: el('<input type="checkbox">') })).toBe('toggleSelect');
    expect(keyAction({ key: 'j', target: el('<button>b</button>') })).toBe('next');
    expect(keyAction({ key: 'j', target: document.body })).toBe('next');
    const form = el('<form data-shortcuts="off"><button>save</button></form>');
    expect(keyAction({ key: 'n', target: form.querySelector('button') })).toBeNull();
    const dlg = el('<div role="dialog"><button>ok</button></div>');
    expect(keyAction({ key: 'a', target: dlg.querySelector('button') })).toBeNull();
  });
});

describe('step', () => {
  it('moves within the page', () => {
    expect(step(0, 1, 3, false, false)).toEqual({ kind: 'select', index: 1 });
    expect(step(2, -1, 3, false, false)).toEqual({ kind: 'select', index: 1 });
  });
  it('starts at the first (next) or last (previous) row when nothing is selected', () => {
    expect(step(-1, 1, 3, true, false)).toEqual({ kind: 'select', index: 0 });
    expect(step(-1, -1, 3, true, false)).toEqual({ kind: 'select', index: 2 });
  });
  it('turns pages at the ends', () => {
    expect(step(2, 1, 3, true, false)).toEqual({ kind: 'nextPage' });
    expect(step(2, 1, 3, false, false)).toEqual({ kind: 'none' });
    expect(step(0, -1, 3, false, true)).toEqual({ kind: 'prevPage' });
    expect(step(0, -1, 3, false, false)).toEqual({ kind: 'none' });
  });
  it('handles an empty page', () => {
    expect(step(-1, 1, 0, true, false)).toEqual({ kind: 'nextPage' });
    expect(step(-1, -1, 0, false, true)).toEqual({ kind: 'prevPage' });
    expect(step(-1, 1, 0, false, false)).toEqual({ kind: 'none' });
  });
});

describe('toggle', () => {
  it('adds and removes without mutating', () => {
    const a = new Set(['r1']);
    const b = toggle(a, 'r2');
    expect([...b].sort()).toEqual(['r1', 'r2']);
    expect([...toggle(b, 'r1')]).toEqual(['r2']);
    expect([...a]).toEqual(['r1']);
  });
});
