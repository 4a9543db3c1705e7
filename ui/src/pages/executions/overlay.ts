// Geometry of the detection overlay: boxes given in the image's pixel
// coordinates are scaled to the size the image is displayed at, clipped to
// it, and each gets a label placed above its box (inside when there is no
// room above, shifted left near the right edge) — the same rules the
// server's annotator (models/infer/draw.go) follows, so both look alike.

export interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface OverlayDetection {
  label: string;
  score: number;
  box: Box;
  class_id?: number;
}

export interface Size {
  width: number;
  height: number;
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

// One colour per class id, as models/infer/draw.go draws them.
const palette: [number, number, number][] = [
  [230, 25, 75],
  [245, 130, 48],
  [255, 225, 25],
  [60, 180, 75],
  [0, 130, 200],
  [145, 30, 180],
  [70, 240, 240],
  [240, 50, 230],
];

function rgb(index: number): [number, number, number] {
  const i = ((index % palette.length) + palette.length) % palette.length;
  return palette[i]!;
}

function labelIndex(label: string): number {
  let h = 0;
  for (const ch of label) h = (h * 31 + ch.charCodeAt(0)) | 0;
  return Math.abs(h);
}

/** classColor is the colour of a class id (or, without one, a stable colour per label). */
export function classColor(classId: number | undefined, label = ''): string {
  const [r, g, b] = rgb(classId ?? labelIndex(label));
  return `rgb(${r}, ${g}, ${b})`;
}

/** textColorOn picks black or white text for legibility on a class colour. */
export function textColorOn(classId: number | undefined, label = ''): string {
  const [r, g, b] = rgb(classId ?? labelIndex(label));
  return 299 * r + 587 * g + 114 * b > 128000 ? '#000' : '#fff';
}

export function detectionText(d: OverlayDetection): string {
  return `${d.label} ${d.score.toFixed(2)}`;
}

export interface PlaceOptions {
  fontSize?: number;
  padX?: number;
  labelHeight?: number;
}

/** scaleFor returns the x and y factors from image coordinates to display pixels (1 when either size is unknown). */
export function scaleFor(coord: Size, display: Size): { sx: number; sy: number } {
  if (!(coord.width > 0 && coord.height > 0 && display.width > 0 && display.height > 0)) return { sx: 1, sy: 1 };
  return { sx: display.width / coord.width, sy: display.height / coord.height };
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
    const x0 = Math.max(0, d.box.x * sx);
    const y0 = Math.max(0, d.box.y * sy);
    const x1 = Math.min(W, (d.box.x + d.box.w) * sx);
    const y1 = Math.min(H, (d.box.y + d.box.h) * sy);
    if (!(x1 > x0 && y1 > y0)) return;
    const text = detectionText(d);
    // Monospace-ish estimate: labels are short class names and a score.
    const lw = Math.ceil(text.length * fontSize * 0.6) + 2 * padX;
    const ly = y0 - labelH >= 0 ? y0 - labelH : y0;
    const lx = Math.max(0, Math.min(x0, W - lw));
    out.push({
      index,
      x: x0,
      y: y0,
      w: x1 - x0,
      h: y1 - y0,
      color: classColor(d.class_id, d.label),
      textColor: textColorOn(d.class_id, d.label),
      text,
      label: { x: lx, y: ly, w: lw, h: labelH },
    });
  });
  return out;
}
