import { describe, expect, it } from 'vitest';
import { classColor, placeBoxes, scaleFor, textColorOn } from './overlay';

const det = (x: number, y: number, w: number, h: number, label = 'stain', class_id: number | undefined = 3, score = 0.921) => ({ label, score, class_id, box: { x, y, w, h } });

describe('scaleFor', () => {
  it('scales image coordinates to the displayed size', () => {
    expect(scaleFor({ width: 640, height: 640 }, { width: 320, height: 320 })).toEqual({ sx: 0.5, sy: 0.5 });
    expect(scaleFor({ width: 640, height: 480 }, { width: 1280, height: 960 })).toEqual({ sx: 2, sy: 2 });
  });
  it('is 1:1 while a size is unknown', () => {
    expect(scaleFor({ width: 0, height: 0 }, { width: 320, height: 320 })).toEqual({ sx: 1, sy: 1 });
    expect(scaleFor({ width: 640, height: 640 }, { width: 0, height: 0 })).toEqual({ sx: 1, sy: 1 });
  });
});

describe('placeBoxes', () => {
  it('scales boxes and puts labels above them', () => {
    const [b] = placeBoxes([det(240, 420, 60, 60)], { width: 640, height: 640 }, { width: 320, height: 320 });
    expect(b).toMatchObject({ index: 0, x: 120, y: 210, w: 30, h: 30, text: 'stain 0.92', color: 'rgb(60, 180, 75)', textColor: '#000' });
    expect(b!.label.y).toBe(210 - 18);
    expect(b!.label.x).toBe(120);
  });

  it('puts the label inside a box at the top edge and shifts it left at the right edge', () => {
    const [b] = placeBoxes([det(600, 2, 40, 40, 'scratch', 0)], { width: 640, height: 640 }, { width: 640, height: 640 });
    expect(b!.label.y).toBe(2);
    expect(b!.label.x + b!.label.w).toBeLessThanOrEqual(640);
    expect(b!.label.x).toBeLessThan(600);
    expect(b!.textColor).toBe('#fff');
  });

  it('clips boxes to the image and drops those outside, keeping original indexes', () => {
    const placed = placeBoxes([det(-10, -10, 30, 30), det(700, 700, 10, 10), det(630, 630, 50, 50)], { width: 640, height: 640 }, { width: 640, height: 640 });
    expect(placed.map((p) => p.index)).toEqual([0, 2]);
    expect(placed[0]).toMatchObject({ x: 0, y: 0, w: 20, h: 20 });
    expect(placed[1]).toMatchObject({ x: 630, y: 630, w: 10, h: 10 });
  });

  it('handles non-uniform scaling', () => {
    const [b] = placeBoxes([det(100, 100, 100, 50)], { width: 400, height: 200 }, { width: 800, height: 100 });
    expect(b).toMatchObject({ x: 200, y: 50, w: 200, h: 25 });
  });
});

describe('classColor', () => {
  it('follows the server palette and wraps', () => {
    expect(classColor(0)).toBe('rgb(230, 25, 75)');
    expect(classColor(8)).toBe(classColor(0));
    expect(textColorOn(2)).toBe('#000');
  });
  it('gives a stable colour per label without a class id', () => {
    expect(classColor(undefined, 'dent')).toBe(classColor(undefined, 'dent'));
  });
});
