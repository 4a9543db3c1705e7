// PartNode draws one node of the canvas: part title, node id, typed ports
// (colour per type), and — during a run — its live status, timing and a
// thumbnail of its output; a failed node shows its error. Memoised and fed
// by a per-node store, so neither dragging another node nor a progress
// event for another node re-renders it.
import { Handle, Position, type Node, type NodeProps } from '@xyflow/react';
import { memo } from 'react';
import { useTranslation } from 'react-i18next';
import { AuthedImage } from '../../components/ui';
import { durationBetween, formatDuration } from '../../lib/format';
import { fileURL, useEditor } from './editorContext';
import { inHandle, outHandle, uniqueTypes, type Params } from './graph';
import { usePartText } from './partText';
import { useDecoration } from './store';

export interface PartNodeData extends Record<string, unknown> {
  part: string;
  params: Params;
}
export type PartFlowNode = Node<PartNodeData, 'part'>;

const HANDLE_TOP = 44;
const HANDLE_GAP = 22;

export const PartNode = memo(function PartNode({ id, data, selected }: NodeProps<PartFlowNode>) {
  const { t } = useTranslation('pipelines');
  const { parts, decorations } = useEditor();
  const deco = useDecoration(decorations, id);
  const text = usePartText();
  const part = parts.get(data.part);
  const inputs = uniqueTypes(part?.inputs);
  const outputs = uniqueTypes(part?.outputs);
  const run = deco.run;
  const status = run?.status;
  const problems = deco.problems ?? [];
  const took = durationBetween(run?.started_at, run?.finished_at);
  const thumb = status === 'succeeded' ? fileURL(run?.outputs as { file_id?: string; download_url?: string } | undefined) : null;
  const ports = Math.max(inputs.length, outputs.length);
  const detections = run?.outputs?.detections;
  const cls = ['pnode', selected ? 'selected' : '', status ? `st-${status}` : '', problems.length ? 'has-problems' : ''].join(' ');
  return (
    <div className={cls} data-testid={`node-${id}`} data-status={status ?? ''} style={{ minHeight: HANDLE_TOP + ports * HANDLE_GAP + 6 }}>
      <div className={`pnode-head svc-${part?.service ?? 'other'}`}>
        <span className="pnode-title">{text.title(data.part, part)}</span>
        {status && (
          <span className={`pnode-status st-${status}`} data-testid={`node-status-${id}`}>
            {status === 'running' && <span className="pulse" />}
            {t(`status.${status}`, { ns: 'common', defaultValue: status })}
          </span>
        )}
      </div>
      <div className="pnode-id mono">{id}</div>
      {inputs.map((tp, i) => (
        <Handle key={tp} id={inHandle(tp)} type="target" position={Position.Left} className={`port port-${tp}`} style={{ top: HANDLE_TOP + i * HANDLE_GAP }} title={t(`types.${tp}`)}>
          <span className="port-label in">{t(`types.${tp}`)}</span>
        </Handle>
      ))}
      {outputs.map((tp, i) => (
        <Handle key={tp} id={outHandle(tp)} type="source" position={Position.Right} className={`port port-${tp}`} style={{ top: HANDLE_TOP + i * HANDLE_GAP }} title={t(`types.${tp}`)}>
          <span className="port-label out">{t(`types.${tp}`)}</span>
        </Handle>
      ))}
      <div className="pnode-body" style={{ marginTop: ports * HANDLE_GAP - 6 }}>
        {deco.root && inputs.includes('image') && <div className="pnode-root">⇢ {t('node.inputImage')}</div>}
        {(thumb || took !== null || detections) && (
          <div className="pnode-run">
            {thumb && <AuthedImage src={thumb} alt={t('node.thumb', { id })} className="pnode-thumb" />}
            <div className="pnode-meta">
              {took !== null && <span className="mono">{formatDuration(took)}</span>}
              {detections && <span className="pnode-det">{t('run.detections', { count: detections.length })}</span>}
            </div>
          </div>
        )}
        {status === 'failed' && run?.error && (
          <div className="pnode-error" role="alert" data-testid={`node-error-${id}`}>
            {run.error}
          </div>
        )}
        {problems.length > 0 && !status && (
          <div className="pnode-problems" title={problems.map((p) => p.message ?? p.code).join('\n')}>
            ⚠ {t('node.problems', { count: problems.length })}
          </div>
        )}
      </div>
    </div>
  );
});

export const nodeTypes = { part: PartNode };
