// Parts as GET /api/v1/parts serves them (cloud/catalog/parts.go), for tests.
import type { Part } from './graph';

const schema = (properties: Record<string, unknown>, required?: string[]) =>
  ({ $schema: 'https://json-schema.org/draft/2020-12/schema', type: 'object', additionalProperties: false, properties, ...(required ? { required } : {}) }) as unknown as Record<string, never>;

export const testParts: Part[] = [
  {
    id: 'resize', service: 'resize', title: 'Resize', description: 'Scales the image.', inputs: ['image'], outputs: ['image'],
    params_schema: schema({
      width: { type: 'integer', title: 'Width (px)', minimum: 1, maximum: 8192, default: 640 },
      height: { type: 'integer', title: 'Height (px)', minimum: 1, maximum: 8192, default: 640 },
      keep_aspect: { type: 'boolean', title: 'Keep aspect ratio', default: true },
      interpolation: { type: 'string', title: 'Interpolation', enum: ['nearest', 'linear', 'area', 'cubic'], default: 'linear' },
    }),
  },
  {
    id: 'gaussian_blur', service: 'filter', title: 'Gaussian blur', inputs: ['image'], outputs: ['image'],
    params_schema: schema({
      ksize: { type: 'integer', title: 'Kernel size (odd)', minimum: 1, maximum: 31, default: 5 },
      sigma: { type: 'number', title: 'Sigma', minimum: 0, maximum: 100, default: 0 },
    }),
  },
  {
    id: 'canny', service: 'filter', title: 'Canny edges', inputs: ['image'], outputs: ['image'],
    params_schema: schema({
      low: { type: 'number', minimum: 0, maximum: 1000, default: 50 },
      high: { type: 'number', minimum: 0, maximum: 1000, default: 150 },
      aperture: { type: 'integer', enum: [3, 5, 7], default: 3 },
    }),
  },
  {
    id: 'crop', service: 'filter', title: 'Crop', inputs: ['image'], outputs: ['image'],
    params_schema: schema({ width: { type: 'integer', minimum: 1, maximum: 8192 }, height: { type: 'integer', minimum: 1, maximum: 8192 } }, ['width', 'height']),
  },
  {
    id: 'detect', service: 'detect', title: 'Detect objects', inputs: ['image'], outputs: ['image', 'detections'],
    params_schema: schema({
      score_threshold: { type: 'number', minimum: 0, maximum: 1 },
      annotate: { type: 'boolean', default: true },
    }),
  },
  // Not built in: a part that takes an image and detections (e.g. a drawing or judging part).
  { id: 'judge', service: 'x', title: 'Judge', inputs: ['image', 'detections'], outputs: ['image'], params_schema: schema({}) },
  { id: 'count', service: 'x', title: 'Count', inputs: ['detections'], outputs: ['detections'], params_schema: schema({}) },
];

export const partMap = new Map(testParts.map((p) => [p.id, p]));
