// Live updates of an execution from the WebSocket: the state message
// replaces it, progress events are folded in until the next refetch.
import type { Execution, ProgressMessage, StateMessage } from '../../api/ws';

type NodeStatus = Execution['nodes'][number];

function isTerminalNode(s: string | undefined): boolean {
  return s === 'succeeded' || s === 'failed' || s === 'cancelled' || s === 'skipped';
}

/** applyMessage returns e updated by one WebSocket message (e is not modified). */
export function applyMessage(e: Execution, msg: ProgressMessage | StateMessage): Execution {
  if (msg.type === 'state') return msg.execution.execution_id === e.execution_id ? msg.execution : e;
  if (msg.execution_id !== e.execution_id) return e;
  const at = msg.ts ?? new Date().toISOString();
  const next: Execution = { ...e };
  if (msg.execution_status) {
    next.status = msg.execution_status;
    if (msg.execution_status === 'running' && !next.started_at) next.started_at = at;
    if (isTerminalNode(msg.execution_status) && !next.finished_at) next.finished_at = at;
    if (msg.error && msg.execution_status === 'failed' && !msg.node_id) next.error = msg.error;
  }
  if (msg.node_id) {
    const idx = e.nodes.findIndex((n) => n.node_id === msg.node_id);
    const prev: NodeStatus = idx >= 0 ? e.nodes[idx]! : { node_id: msg.node_id, status: 'queued' };
    const node: NodeStatus = { ...prev };
    if (msg.state) {
      if (msg.state === 'running' && isTerminalNode(prev.status)) {
        // A retry: the node runs again.
        node.attempts = (prev.attempts ?? 1) + 1;
        node.finished_at = undefined;
        node.error = undefined;
      }
      node.status = msg.state;
      if (msg.state === 'running' && !node.started_at) node.started_at = at;
      if (isTerminalNode(msg.state) && !node.finished_at && node.started_at) node.finished_at = at;
      if (msg.state === 'running' && !node.attempts) node.attempts = 1;
    }
    if (msg.outputs) node.outputs = { ...prev.outputs, ...msg.outputs };
    if (msg.error) node.error = msg.error;
    const nodes = [...e.nodes];
    if (idx >= 0) nodes[idx] = node;
    else nodes.push(node);
    next.nodes = nodes;
    if (next.status === 'queued' && msg.state === 'running') {
      next.status = 'running';
      if (!next.started_at) next.started_at = at;
    }
  }
  return next;
}
