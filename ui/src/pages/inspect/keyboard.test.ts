import { describe, expect, it } from 'vitest';
import { actionFor, isTypingTarget, legend } from './keyboard';

const k = (key: string, extra: Record<string, unknown> = {}) => ({ key, ...extra });

describe('actionFor', () => {
  it('captures with Space or Enter in live view, not on auto-repeat', () => {
    expect(actionFor(k(' '), 'live')).toEqual({ type: 'capture' });
    expect(actionFor(k('Enter'), 'live')).toEqual({ type: 'capture' });
    expect(actionFor(k(' ', { repeat: true }), 'live')).toBeNull();
    expect(actionFor(k('1'), 'live')).toBeNull();
  });
  it('maps 1/O to OK and 2/N to NG on a capture, either case', () => {
    for (const key of ['1', 'o', 'O']) expect(actionFor(k(key), 'review')).toEqual({ type: 'ok' });
    for (const key of ['2', 'n', 'N']) expect(actionFor(k(key), 'review')).toEqual({ type: 'ng' });
    expect(actionFor(k('Escape'), 'review')).toEqual({ type: 'back' });
    expect(actionFor(k(' '), 'review')).toBeNull();
  });
  it('number keys pick defect types while NG is open', () => {
    expect(actionFor(k('1'), 'ng')).toEqual({ type: 'defect', index: 0 });
    expect(actionFor(k('9'), 'ng')).toEqual({ type: 'defect', index: 8 });
    expect(actionFor(k('0'), 'ng')).toBeNull();
    expect(actionFor(k('Enter'), 'ng')).toEqual({ type: 'submit' });
    expect(actionFor(k('Escape'), 'ng')).toEqual({ type: 'back' });
    expect(actionFor(k('o'), 'ng')).toBeNull();
  });
  it('ignores modified keys, IME composition and keys while busy or on the start screen', () => {
    expect(actionFor(k('1', { ctrlKey: true }), 'review')).toBeNull();
    expect(actionFor(k('n', { metaKey: true }), 'review')).toBeNull();
    expect(actionFor(k('1', { isComposing: true }), 'review')).toBeNull();
    expect(actionFor(k(' '), 'busy')).toBeNull();
    expect(actionFor(k(' '), 'start')).toBeNull();
  });
  it('never fires while typing', () => {
    const input = document.createElement('input');
    const textarea = document.createElement('textarea');
    const button = document.createElement('button');
    const checkbox = document.createElement('input');
    checkbox.type = 'checkbox';
    expect(actionFor(k('1', { target: input }), 'review')).toBeNull();
    expect(actionFor(k('Enter', { target: textarea }), 'ng')).toBeNull();
    expect(actionFor(k('3', { target: input }), 'ng')).toBeNull();
    expect(actionFor(k(' ', { target: button }), 'live')).toEqual({ type: 'capture' });
    expect(isTypingTarget(checkbox)).toBe(false);
    const div = document.createElement('div');
    div.contentEditable = 'true';
    // jsdom does not compute isContentEditable; emulate the browser.
    Object.defineProperty(div, 'isContentEditable', { value: true });
    expect(isTypingTarget(div)).toBe(true);
    expect(isTypingTarget(null)).toBe(false);
  });
  it('has a legend for every interactive mode', () => {
    expect(legend('live').length).toBeGreaterThan(0);
    expect(legend('review').map(([, what]) => what)).toEqual(['keys.ok', 'keys.ng', 'keys.retake']);
    expect(legend('start')).toEqual([]);
  });
});
