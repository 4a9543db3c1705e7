import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, screen } from '@testing-library/react';
import { DetectionOverlay } from './DetectionOverlay';

// jsdom lays nothing out: give images a natural and a displayed size.
beforeAll(() => {
  Object.defineProperty(HTMLImageElement.prototype, 'naturalWidth', { configurable: true, get: () => 640 });
  Object.defineProperty(HTMLImageElement.prototype, 'naturalHeight', { configurable: true, get: () => 480 });
  Object.defineProperty(HTMLImageElement.prototype, 'clientWidth', { configurable: true, get: () => 320 });
  Object.defineProperty(HTMLImageElement.prototype, 'clientHeight', { configurable: true, get: () => 240 });
});
afterEach(cleanup);

const src = 'data:image/png;base64,iVBORw0KGgo=';
const dets = [
  { label: 'stain', score: 0.92, class_id: 3, box: { x: 100, y: 100, w: 60, h: 40 } },
  { label: 'dent', score: 0.5, class_id: 1, box: { x: 400, y: 300, w: 20, h: 20 } },
];

describe('DetectionOverlay', () => {
  it('draws boxes scaled to the displayed image, with labels', () => {
    render(<DetectionOverlay src={src} alt="result" detections={dets} testId="ov" />);
    fireEvent.load(screen.getByAltText('result'));
    const boxes = screen.getAllByTestId('detection-box');
    expect(boxes).toHaveLength(2);
    const rect = boxes[0]!.querySelector('rect')!;
    expect([rect.getAttribute('x'), rect.getAttribute('y'), rect.getAttribute('width'), rect.getAttribute('height')]).toEqual(['50', '50', '30', '20']);
    expect(rect.getAttribute('stroke')).toBe('rgb(60, 180, 75)');
    expect(screen.getByText('stain 0.92')).toBeTruthy();
    expect(screen.getByTestId('ov').querySelector('svg')!.getAttribute('viewBox')).toBe('0 0 320 240');
  });

  it('labels only the highlighted box when the image already carries labels, and reports hovering', () => {
    const onHighlight = vi.fn();
    render(<DetectionOverlay src={src} alt="result" detections={dets} labels="highlighted" highlighted={1} onHighlight={onHighlight} />);
    fireEvent.load(screen.getByAltText('result'));
    expect(screen.queryByText('stain 0.92')).toBeNull();
    expect(screen.getByText('dent 0.50')).toBeTruthy();
    const boxes = screen.getAllByTestId('detection-box');
    // The highlighted box is drawn last (on top); the other is dimmed.
    expect(boxes[1]!.getAttribute('class')).toContain('hi');
    expect(boxes[0]!.getAttribute('class')).toContain('dim');
    fireEvent.mouseEnter(boxes[0]!);
    expect(onHighlight).toHaveBeenCalledWith(0);
  });

  it('uses the coordinate size it is given and can hide the boxes', () => {
    const { rerender } = render(<DetectionOverlay src={src} alt="result" detections={dets} coordSize={{ width: 1280, height: 960 }} />);
    fireEvent.load(screen.getByAltText('result'));
    const rect = screen.getAllByTestId('detection-box')[0]!.querySelector('rect')!;
    expect(rect.getAttribute('x')).toBe('25');
    rerender(<DetectionOverlay src={src} alt="result" detections={dets} showBoxes={false} />);
    expect(screen.queryAllByTestId('detection-box')).toHaveLength(0);
  });
});
