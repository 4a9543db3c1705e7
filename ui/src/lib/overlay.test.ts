import { describe, expect, it } from 'vitest';
import { clipBox, frameToImage, scaleBox, scaleFor } from './overlay';

describe('shared overlay geometry', () => {
  it('scales and clips boxes', () => {
    expect(scaleBox({ x: 10, y: 20, w: 30, h: 40 }, 2, 0.5)).toEqual({ x: 20, y: 10, w: 60, h: 20 });
    expect(clipBox({ x: -10, y: 90, w: 30, h: 30 }, { width: 100, height: 100 })).toEqual({ x: 0, y: 90, w: 20, h: 10 });
    expect(clipBox({ x: 200, y: 0, w: 10, h: 10 }, { width: 100, height: 100 }).w).toBe(0);
    expect(scaleFor({ width: 640, height: 640 }, { width: 0, height: 0 })).toEqual({ sx: 1, sy: 1 });
  });
  it('maps a detector frame back onto its image', () => {
    // Same aspect: a plain scale.
    expect(frameToImage({ x: 10, y: 20, w: 30, h: 40 }, { width: 640, height: 360 }, { width: 1280, height: 720 })).toEqual({ x: 20, y: 40, w: 60, h: 80 });
    // 1280×720 letterboxed into 640×640: scale 0.5, 140 px of padding above.
    expect(frameToImage({ x: 100, y: 140, w: 64, h: 36 }, { width: 640, height: 640 }, { width: 1280, height: 720 })).toEqual({ x: 200, y: 0, w: 128, h: 72 });
    // Unknown frame: as is, clipped.
    expect(frameToImage({ x: -5, y: 0, w: 10, h: 10 }, null, { width: 100, height: 100 })).toEqual({ x: 0, y: 0, w: 5, h: 10 });
  });
});
