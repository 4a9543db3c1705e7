// Geometry of the detection overlay: boxes given in the image's pixel
// coordinates are scaled to the size the image is displayed at, clipped to
// it, and each gets a label placed above its box (inside when there is no
// room above, shifted left near the right edge) — the same rules the
// server's annotator (models/infer/draw.go) follows, so both look alike.

import { classColor, clipBox, scaleBox, scaleFor, textColorOn, type Box, type Size } from '../../lib/overlay';

export { classColor, scaleFor, textColorOn, type Box, type Size };

export interface OverlayDetection {
  label: string;
  score: number;
  box: Box;
  class_id?: number;
}

export interface PlacedBox {
  index: number;
  x: number;
  y: number;
  w: number;
  h: number;
  color: string;
  textColor: string;
  text: string;
  label: { x: number; y: number; w: number; h: number };
}

export function detectionText(d: OverlayDetection): string {
  return `${d.label} ${d.score.toFixed(2)}`;
}

export interface PlaceOptions {
  fontSize?: number;
  padX?: number;
  labelHeight?: number;
}

/**
 * placeBoxes scales detections from coord (the pixel size their boxes refer
 * to) to display (the rendered size) and places their labels. Boxes entirely
 * outside the image are dropped; the rest are clipped to it.
 */
export function placeBoxes(dets: OverlayDetection[], coord: Size, display: Size, opts: PlaceOptions = {}): PlacedBox[] {
  const fontSize = opts.fontSize ?? 12;
  const padX = opts.padX ?? 4;
  const labelH = opts.labelHeight ?? fontSize + 6;
  const { sx, sy } = scaleFor(coord, display);
  const W = display.width > 0 && coord.width > 0 ? display.width : coord.width * sx;
  const H = display.height > 0 && coord.height > 0 ? display.height : coord.height * sy;
  const out: PlacedBox[] = [];
  dets.forEach((d, index) => {
    const c = clipBox(scaleBox(d.box, sx, sy), { width: W, height: H });
    if (!(c.w > 0 && c.h > 0)) return;
    const { x: x0, y: y0 } = c;
    const text = detectionText(d);
    // Monospace-ish estimate: labels are short class names and a score.
    const lw = Math.ceil(text.length * fontSize * 0.6) + 2 * padX;
    const ly = y0 - labelH >= 0 ? y0 - labelH : y0;
    const lx = Math.max(0, Math.min(x0, W - lw));
    out.push({
      index,
      x: x0,
      y: y0,
      w: c.w,
      h: c.h,
      color: classColor(d.class_id, d.label),
      textColor: textColorOn(d.class_id, d.label),
      text,
      label: { x: lx, y: ly, w: lw, h: labelH },
    });
  });
  return out;
}
