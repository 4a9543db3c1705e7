// Detection overlay geometry: which detections a record's cloud execution
// found, how its boxes map onto the record image, and how the image fits
// the viewer.
import type { CloudSchemas } from '../../api/client';
import { frameToImage } from '../../lib/overlay';

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

const wh = (s: Size) => ({ width: s.w, height: s.h });

/**
 * mapBox maps a box from the detector's frame (the image the detect node
 * saw, in pixels) onto the record image: the cloud pipelines resize before
 * detecting, so a plain scale or an undone letterbox (lib/overlay
 * frameToImage), clipped to the image.
 */
export function mapBox(box: Rect, frame: Size | null | undefined, image: Size): Rect {
  return frameToImage(box, frame ? wh(frame) : null, wh(image));
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
