import { describe, expect, it } from 'vitest';
import { detectionsOf, fitScale, mapBox, zoomStep } from './overlay';
import type { CloudSchemas } from '../../api/client';

const close = (a: { x: number; y: number; w: number; h: number }, b: typeof a) => {
  for (const k of ['x', 'y', 'w', 'h'] as const) expect(a[k]).toBeCloseTo(b[k], 3);
};

describe('mapBox', () => {
  it('keeps boxes when the detector saw the image itself', () => {
    close(mapBox({ x: 10, y: 20, w: 30, h: 40 }, { w: 1280, h: 720 }, { w: 1280, h: 720 }), { x: 10, y: 20, w: 30, h: 40 });
    close(mapBox({ x: 10, y: 20, w: 30, h: 40 }, null, { w: 1280, h: 720 }), { x: 10, y: 20, w: 30, h: 40 });
  });
  it('scales boxes from a resized frame of the same aspect', () => {
    close(mapBox({ x: 10, y: 20, w: 30, h: 40 }, { w: 640, h: 360 }, { w: 1280, h: 720 }), { x: 20, y: 40, w: 60, h: 80 });
  });
  it('undoes a centred 640×640 letterbox of a 1280×720 image', () => {
    // scale 0.5: the image is 640×360 with 140 px of padding above and below.
    close(mapBox({ x: 100, y: 140, w: 64, h: 36 }, { w: 640, h: 640 }, { w: 1280, h: 720 }), { x: 200, y: 0, w: 128, h: 72 });
    close(mapBox({ x: 320, y: 320, w: 10, h: 10 }, { w: 640, h: 640 }, { w: 1280, h: 720 }), { x: 640, y: 360, w: 20, h: 20 });
  });
  it('undoes a pillarbox (tall image)', () => {
    // 600×1200 into 640×640: scale 0.5333, 320 px wide, 160 px padding left.
    const s = 640 / 1200;
    close(mapBox({ x: 160, y: 0, w: 320, h: 640 }, { w: 640, h: 640 }, { w: 600, h: 1200 }), { x: 0, y: 0, w: 320 / s, h: 1200 });
  });
  it('clips to the image', () => {
    close(mapBox({ x: 0, y: 100, w: 50, h: 60 }, { w: 640, h: 640 }, { w: 1280, h: 720 }), { x: 0, y: 0, w: 100, h: 40 });
    close(mapBox({ x: -10, y: -10, w: 20, h: 2000 }, null, { w: 100, h: 100 }), { x: 0, y: 0, w: 10, h: 100 });
  });
});

describe('fitScale and zoom', () => {
  it('fits the whole image in the viewport', () => {
    expect(fitScale({ w: 640, h: 420 }, { w: 1280, h: 720 })).toBeCloseTo(0.5);
    expect(fitScale({ w: 800, h: 300 }, { w: 1280, h: 720 })).toBeCloseTo(300 / 720);
    expect(fitScale({ w: 2000, h: 2000 }, { w: 100, h: 100 })).toBe(4);
    expect(fitScale({ w: 0, h: 0 }, { w: 100, h: 100 })).toBe(1);
  });
  it('steps zoom up and down', () => {
    expect(zoomStep(0.52, 1)).toBe(0.67);
    expect(zoomStep(0.52, -1)).toBe(0.5);
    expect(zoomStep(1, 1)).toBe(1.5);
    expect(zoomStep(4, 1)).toBe(4);
    expect(zoomStep(0.1, -1)).toBe(0.1);
  });
});

describe('detectionsOf', () => {
  it('lists nodes with detections and their output file', () => {
    const ex: CloudSchemas['Execution'] = {
      execution_id: 'e', pipeline_id: 'p', pipeline_version: 1, inputs: ['f0'], status: 'succeeded',
      nodes: [
        { node_id: 'resize', status: 'succeeded', outputs: { file_id: 'f1' } },
        { node_id: 'detect', status: 'succeeded', outputs: { file_id: 'f2', detections: [{ label: 'dent', score: 0.9, box: { x: 1, y: 2, w: 3, h: 4 } }] } },
      ],
    };
    expect(detectionsOf(ex)).toEqual([{ nodeId: 'detect', fileId: 'f2', detections: ex.nodes[1]!.outputs!.detections }]);
    expect(detectionsOf(undefined)).toEqual([]);
  });
});
