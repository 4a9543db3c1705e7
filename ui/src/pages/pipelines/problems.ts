// Server problems (RFC 9457 "problems": node, field, message) placed on the
// canvas: a problem naming a node goes on that node, and one whose field is
// nodes[i].params.<name> goes on that parameter of the form.
import type { Problem as ServerProblem } from '../../api/client';
import type { Definition, Problem } from './graph';

export interface Placed {
  /** byNode: node id → problems about that node. */
  byNode: Map<string, Problem[]>;
  /** general: problems about the graph as a whole. */
  general: Problem[];
}

const nodeField = /^nodes\[(\d+)\](?:\.(\w+)(?:\.(.+))?)?$/;

/** paramOf returns the parameter a field path names ("nodes[1].params.width" → "width"). */
export function paramOf(field: string | undefined): string | null {
  const m = field ? nodeField.exec(field) : null;
  return m && m[2] === 'params' && m[3] ? m[3] : null;
}

/** fromServer turns a problem document's items into canvas problems, naming the node from the field when the server did not. */
export function fromServer(problem: ServerProblem | undefined, def: Definition | undefined): Problem[] {
  const items = problem?.problems ?? [];
  return items.map((it) => {
    let node = typeof it.node === 'string' && it.node ? it.node : undefined;
    const m = it.field ? nodeField.exec(it.field) : null;
    if (!node && m && def) node = def.nodes[Number(m[1])]?.id;
    return { node, field: it.field, code: 'server', message: it.message ?? '' };
  });
}

/** place groups problems by node. */
export function place(problems: readonly Problem[], nodeIds: readonly string[]): Placed {
  const ids = new Set(nodeIds);
  const byNode = new Map<string, Problem[]>();
  const general: Problem[] = [];
  for (const p of problems) {
    if (p.node && ids.has(p.node)) byNode.set(p.node, [...(byNode.get(p.node) ?? []), p]);
    else general.push(p);
  }
  return { byNode, general };
}
