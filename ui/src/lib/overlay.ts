// Detection box geometry and colours shared by the executions page (boxes
// over an image shown at any size) and the results review (boxes of a cloud
// execution over the record image, in a zoomable viewer).

export interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface Size {
  width: number;
  height: number;
}

function known(s: Size | null | undefined): s is Size {
  return !!s && s.width > 0 && s.height > 0 && Number.isFinite(s.width) && Number.isFinite(s.height);
}

/** scaleFor returns the x and y factors from one frame's pixels to another's (1 when either size is unknown). */
export function scaleFor(from: Size, to: Size): { sx: number; sy: number } {
  if (!known(from) || !known(to)) return { sx: 1, sy: 1 };
  return { sx: to.width / from.width, sy: to.height / from.height };
}

/** scaleBox multiplies a box by per-axis factors. */
export function scaleBox(b: Box, sx: number, sy: number): Box {
  return { x: b.x * sx, y: b.y * sy, w: b.w * sx, h: b.h * sy };
}

/** clipBox clips a box to [0, width] × [0, height]; a box outside comes back with w or h 0. */
export function clipBox(b: Box, bounds: Size): Box {
  const x0 = Math.max(0, Math.min(bounds.width, b.x));
  const y0 = Math.max(0, Math.min(bounds.height, b.y));
  const x1 = Math.max(0, Math.min(bounds.width, b.x + b.w));
  const y1 = Math.max(0, Math.min(bounds.height, b.y + b.h));
  return { x: x0, y: y0, w: x1 - x0, h: y1 - y0 };
}

/**
 * frameToImage maps a box from the frame a detector saw onto the image that
 * frame was made from. The same aspect ratio is a plain scale; a different
 * one is a centred letterbox (the resize part pads evenly, odd pixels
 * right/bottom), which is undone. Without a known frame the box is taken as
 * is. The result is clipped to the image (when its size is known).
 */
export function frameToImage(box: Box, frame: Size | null | undefined, image: Size): Box {
  let r = { ...box };
  if (known(frame) && known(image) && (frame.width !== image.width || frame.height !== image.height)) {
    if (Math.abs(frame.width / frame.height - image.width / image.height) < 0.01) {
      const { sx, sy } = scaleFor(frame, image);
      r = scaleBox(box, sx, sy);
    } else {
      const s = Math.min(frame.width / image.width, frame.height / image.height);
      const padX = Math.floor((frame.width - Math.round(image.width * s)) / 2);
      const padY = Math.floor((frame.height - Math.round(image.height * s)) / 2);
      r = { x: (box.x - padX) / s, y: (box.y - padY) / s, w: box.w / s, h: box.h / s };
    }
  }
  return known(image) ? clipBox(r, image) : r;
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
