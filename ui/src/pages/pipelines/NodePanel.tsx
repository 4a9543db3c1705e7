// NodePanel: the selected node's id (editable: valid characters, unique),
// its part, ports, problems and the parameter form generated from the
// part's params_schema.
import { memo, useCallback, useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Badge } from '../../components/ui';
import { useEditor } from './editorContext';
import { uniqueTypes, type Params, type Problem } from './graph';
import { validateParams } from './params';
import type { PartNodeData } from './PartNode';
import { usePartText } from './partText';
import { useProblemText } from './ProblemList';
import { SchemaForm } from './SchemaForm';

interface Props {
  nodeId: string | null;
  data: PartNodeData | null;
  readOnly: boolean;
  problems: Problem[];
  serverErrors?: Record<string, string>;
  onParams: (id: string, params: Params) => void;
  onRename: (from: string, to: string) => string | null;
  onDelete: (id: string) => void;
}

export const NodePanel = memo(function NodePanel({ nodeId, data, readOnly, problems, serverErrors, onParams, onRename, onDelete }: Props) {
  const { t } = useTranslation('pipelines');
  const { parts } = useEditor();
  const text = useProblemText();
  const [draftId, setDraftId] = useState(nodeId ?? '');
  const [idError, setIdError] = useState<string | null>(null);
  const part = data ? parts.get(data.part) : undefined;
  const validate = useCallback((v: Params) => (part ? validateParams(part, v) : []), [part]);
  const onChange = useCallback((v: Params) => nodeId && onParams(nodeId, v), [nodeId, onParams]);
  const partText = usePartText();
  const schema = useMemo(() => (part ? partText.schema(part) : null), [part, partText]);
  if (!nodeId || !data) return <p className="muted panel-empty">{t('props.none')}</p>;

  const commitId = () => {
    if (draftId === nodeId) return setIdError(null);
    setIdError(onRename(nodeId, draftId));
  };
  const nodeProblems = problems.filter((p) => !/\.params\./.test(p.field ?? ''));
  return (
    <div className="node-panel" data-testid="node-panel">
      <div className="panel-part">
        <h2>{partText.title(data.part, part)}</h2>
        <span className="mono muted small">{data.part}</span>
      </div>
      {partText.description(part) && <p className="muted small">{partText.description(part)}</p>}
      <div className="ports-row small">
        <span className="muted">{t('props.inputs')}</span>
        {uniqueTypes(part?.inputs).map((tp) => (
          <span key={tp} className={`type-tag type-${tp}`}>
            {t(`types.${tp}`)}
          </span>
        ))}
        <span className="muted">{t('props.outputs')}</span>
        {uniqueTypes(part?.outputs).map((tp) => (
          <span key={tp} className={`type-tag type-${tp}`}>
            {t(`types.${tp}`)}
          </span>
        ))}
      </div>
      <div className="field">
        <label htmlFor="node-id">{t('props.nodeId')}</label>
        <input
          id="node-id"
          className={`input mono${idError ? ' invalid' : ''}`}
          value={draftId}
          disabled={readOnly}
          onChange={(e) => setDraftId(e.target.value)}
          onBlur={commitId}
          onKeyDown={(e) => e.key === 'Enter' && commitId()}
        />
        {idError ? (
          <span className="field-error" role="alert">
            {t(`problems.${idError}`)}
          </span>
        ) : (
          <span className="field-help">{t('props.idHelp')}</span>
        )}
      </div>
      {nodeProblems.length > 0 && (
        <div className="banner banner-error node-problems">
          <ul>
            {nodeProblems.map((p, i) => (
              <li key={i}>{text(p)}</li>
            ))}
          </ul>
        </div>
      )}
      <h3 className="section">{t('props.params')}</h3>
      {schema ? (
        <SchemaForm
          schema={schema}
          value={data.params}
          onChange={onChange}
          validate={validate}
          extraErrors={serverErrors}
          readOnly={readOnly}
          idPrefix={`p-${nodeId}`}
        />
      ) : (
        <Badge tone="ng">{t('problems.unknownPart', { part: data.part })}</Badge>
      )}
      {!readOnly && (
        <button className="btn btn-sm btn-danger-ghost" onClick={() => onDelete(nodeId)}>
          {t('props.delete')}
        </button>
      )}
    </div>
  );
});
