import { describe, expect, it } from 'vitest';
import type { Execution, ProgressMessage } from '../../api/ws';
import { applyMessage } from './live';

const base: Execution = {
  execution_id: 'e1',
  pipeline_id: 'p',
  pipeline_version: 1,
  inputs: ['f'],
  status: 'queued',
  created_at: '2026-01-01T00:00:00Z',
  nodes: [
    { node_id: 'resize', status: 'queued' },
    { node_id: 'detect', status: 'queued' },
  ],
};
const progress = (p: Omit<ProgressMessage, 'type' | 'execution_id' | 'seq'>): ProgressMessage => ({ type: 'progress', execution_id: 'e1', seq: 1, ...p });

describe('applyMessage', () => {
  it('replaces the execution with a state message', () => {
    const state = { ...base, status: 'succeeded' as const };
    expect(applyMessage(base, { type: 'state', execution_id: 'e1', execution: state })).toBe(state);
  });

  it('ignores messages of other executions', () => {
    expect(applyMessage(base, { ...progress({ node_id: 'resize', state: 'running' }), execution_id: 'other' })).toBe(base);
  });

  it('marks a node running with its start, and the execution running', () => {
    const e = applyMessage(base, progress({ node_id: 'resize', state: 'running', ts: '2026-01-01T00:00:01Z' }));
    expect(e.status).toBe('running');
    expect(e.started_at).toBe('2026-01-01T00:00:01Z');
    expect(e.nodes[0]).toMatchObject({ status: 'running', started_at: '2026-01-01T00:00:01Z', attempts: 1 });
    expect(base.nodes[0]!.status).toBe('queued');
  });

  it('finishes a node with outputs and errors, then the execution', () => {
    let e = applyMessage(base, progress({ node_id: 'detect', state: 'running', ts: '2026-01-01T00:00:01Z' }));
    e = applyMessage(e, progress({ node_id: 'detect', state: 'failed', ts: '2026-01-01T00:00:02Z', error: 'model missing', outputs: { file_id: 'x' } }));
    expect(e.nodes[1]).toMatchObject({ status: 'failed', finished_at: '2026-01-01T00:00:02Z', error: 'model missing', outputs: { file_id: 'x' } });
    e = applyMessage(e, progress({ execution_status: 'failed', ts: '2026-01-01T00:00:03Z' }));
    expect(e).toMatchObject({ status: 'failed', finished_at: '2026-01-01T00:00:03Z' });
  });

  it('counts a retry when a finished node runs again', () => {
    let e = applyMessage(base, progress({ node_id: 'resize', state: 'running', ts: '2026-01-01T00:00:01Z' }));
    e = applyMessage(e, progress({ node_id: 'resize', state: 'failed', ts: '2026-01-01T00:00:02Z', error: 'unavailable' }));
    e = applyMessage(e, progress({ node_id: 'resize', state: 'running', ts: '2026-01-01T00:00:03Z' }));
    expect(e.nodes[0]).toMatchObject({ status: 'running', attempts: 2, error: undefined, finished_at: undefined });
  });

  it('adds nodes it did not know', () => {
    const e = applyMessage(base, progress({ node_id: 'extra', state: 'succeeded' }));
    expect(e.nodes.map((n) => n.node_id)).toEqual(['resize', 'detect', 'extra']);
  });
});
