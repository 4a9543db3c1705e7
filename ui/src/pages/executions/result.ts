// Which node's output the detail page shows: the pipeline's sink (a node no
// edge leaves) with an image, and the detections that go with it.
import type { CloudSchemas } from '../../api/client';

type Execution = CloudSchemas['Execution'];
type NodeStatus = CloudSchemas['NodeStatus'];
type Definition = CloudSchemas['PipelineDefinition'];
type Detection = CloudSchemas['Detection'];

export interface ResultPick {
  /** Node whose output image is shown. */
  imageNode?: NodeStatus;
  /** Node whose detections are listed (undefined: none reported any yet). */
  detectionNode?: NodeStatus;
  detections: Detection[];
  /** The image already has boxes and labels drawn by the detect part (its annotate param is on). */
  annotatedByServer: boolean;
}

/** sinkIds are the nodes of def that no edge leaves (every node when def is unknown). */
export function sinkIds(def: Definition | undefined, e: Pick<Execution, 'nodes'>): Set<string> {
  if (!def) return new Set(e.nodes.map((n) => n.node_id));
  const from = new Set((def.edges ?? []).map((x) => x.from));
  return new Set(def.nodes.map((n) => n.id).filter((id) => !from.has(id)));
}

function lastWhere<T>(xs: T[], f: (x: T) => boolean): T | undefined {
  for (let i = xs.length - 1; i >= 0; i--) if (f(xs[i]!)) return xs[i];
  return undefined;
}

export function pickResult(e: Pick<Execution, 'nodes'>, def?: Definition): ResultPick {
  const sinks = sinkIds(def, e);
  const hasImage = (n: NodeStatus) => !!n.outputs?.file_id;
  const hasDets = (n: NodeStatus) => Array.isArray(n.outputs?.detections);
  const imageNode = lastWhere(e.nodes, (n) => sinks.has(n.node_id) && hasImage(n)) ?? lastWhere(e.nodes, hasImage);
  const detectionNode =
    (imageNode && hasDets(imageNode) ? imageNode : undefined) ?? lastWhere(e.nodes, (n) => sinks.has(n.node_id) && hasDets(n)) ?? lastWhere(e.nodes, hasDets);
  const defNode = def?.nodes.find((n) => n.id === detectionNode?.node_id);
  const params = (defNode?.params ?? {}) as { annotate?: unknown };
  const annotatedByServer = !!detectionNode && detectionNode === imageNode && defNode?.part === 'detect' && params.annotate !== false;
  return { imageNode, detectionNode, detections: detectionNode?.outputs?.detections ?? [], annotatedByServer };
}

/** fileURL is where an <img> gets a stored file: the signed download URL when the server gives one, else the API content route. */
export function fileURL(outputs: { file_id?: string; download_url?: string } | undefined): string | null {
  if (!outputs?.file_id) return null;
  return outputs.download_url || `/api/v1/files/${encodeURIComponent(outputs.file_id)}/content`;
}
