// Detection overlay geometry: which detections a record's cloud execution
// found, how its boxes map onto the record image, and how the image fits
// the viewer.
import type { CloudSchemas } from '../../api/client';

type Execution = CloudSchemas['Execution'];
type Detection = CloudSchemas['Detection'];

export interface Size {
  w: number;
  h: number;
}
export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** NodeDetections are the detections of one pipeline node and the file of its output image (their frame). */
export interface NodeDetections {
  nodeId: string;
  fileId: string | undefined;
  detections: Detection[];
}

/** detectionsOf lists every node of the execution that reported detections, in pipeline order. */
export function detectionsOf(ex: Execution | undefined | null): NodeDetections[] {
  if (!ex) return [];
  return ex.nodes
    .filter((n) => Array.isArray(n.outputs?.detections))
    .map((n) => ({ nodeId: n.node_id, fileId: n.outputs?.file_id, detections: n.outputs?.detections ?? [] }));
}

function valid(s: Size | null | undefined): s is Size {
  return !!s && s.w > 0 && s.h > 0 && Number.isFinite(s.w) && Number.isFinite(s.h);
}

/**
 * mapBox maps a box from the detector's frame (the image the detect node
 * saw, in pixels) onto the record image. The cloud pipelines resize before
 * detecting: the same aspect ratio is a plain scale; a different one is a
 * centred letterbox (the resize part pads evenly, odd pixels right/bottom),
 * which is undone. Without a known frame the box is taken as is. The
 * result is clipped to the image.
 */
export function mapBox(box: Rect, frame: Size | null | undefined, image: Size): Rect {
  let r = { ...box };
  if (valid(frame) && valid(image) && (frame.w !== image.w || frame.h !== image.h)) {
    const sameAspect = Math.abs(frame.w / frame.h - image.w / image.h) < 0.01;
    if (sameAspect) {
      const sx = image.w / frame.w;
      const sy = image.h / frame.h;
      r = { x: box.x * sx, y: box.y * sy, w: box.w * sx, h: box.h * sy };
    } else {
      const s = Math.min(frame.w / image.w, frame.h / image.h);
      const padX = Math.floor((frame.w - Math.round(image.w * s)) / 2);
      const padY = Math.floor((frame.h - Math.round(image.h * s)) / 2);
      r = { x: (box.x - padX) / s, y: (box.y - padY) / s, w: box.w / s, h: box.h / s };
    }
  }
  if (!valid(image)) return r;
  const x0 = Math.max(0, Math.min(image.w, r.x));
  const y0 = Math.max(0, Math.min(image.h, r.y));
  const x1 = Math.max(0, Math.min(image.w, r.x + r.w));
  const y1 = Math.max(0, Math.min(image.h, r.y + r.h));
  return { x: x0, y: y0, w: x1 - x0, h: y1 - y0 };
}

/** fitScale is the zoom at which the image fits the viewport whole (never above maxZoom). */
export function fitScale(viewport: Size, image: Size, maxZoom = 4): number {
  if (!valid(viewport) || !valid(image)) return 1;
  return Math.min(viewport.w / image.w, viewport.h / image.h, maxZoom);
}

/** Zoom steps of the viewer, as factors of the natural size. */
export const zoomSteps = [0.1, 0.25, 0.33, 0.5, 0.67, 0.75, 1, 1.5, 2, 3, 4];

/** zoomStep moves to the next step above (dir 1) or below (dir -1) the current zoom. */
export function zoomStep(current: number, dir: 1 | -1): number {
  if (dir === 1) return zoomSteps.find((z) => z > current + 1e-6) ?? zoomSteps[zoomSteps.length - 1]!;
  return [...zoomSteps].reverse().find((z) => z < current - 1e-6) ?? zoomSteps[0]!;
}

/** labelColour gives each detection label a stable, distinct colour. */
export function labelColour(label: string): string {
  let h = 0;
  for (const c of label) h = (h * 31 + c.charCodeAt(0)) % 360;
  return `hsl(${h} 85% 50%)`;
}
