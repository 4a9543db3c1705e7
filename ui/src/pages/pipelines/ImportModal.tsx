// ImportModal reads a YAML (or JSON) definition, pasted or from a file,
// checks it like the server would and only then offers to replace the
// canvas. Nothing on the canvas changes until the user confirms.
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Modal } from '../../components/ui';
import { validateDefinition, type Definition, type PartMap, type Problem } from './graph';
import { validateParams } from './params';
import { ProblemList } from './ProblemList';
import { parseDefinitionYAML, type SyntaxProblem } from './yamlio';

type Checked = { def: Definition; problems: Problem[] } | { syntax: SyntaxProblem[] } | null;

export function ImportModal({ parts, onClose, onApply }: { parts: PartMap; onClose: () => void; onApply: (d: Definition) => void }) {
  const { t } = useTranslation('pipelines');
  const [text, setText] = useState('');
  const [checked, setChecked] = useState<Checked>(null);
  const check = (src: string): Checked => {
    const r = parseDefinitionYAML(src);
    const c: Checked = r.ok ? { def: r.definition, problems: validateDefinition(r.definition, parts, validateParams) } : { syntax: r.problems };
    setChecked(c);
    return c;
  };
  const ok = checked && 'def' in checked && checked.problems.length === 0;
  return (
    <Modal
      title={t('import.title')}
      onClose={onClose}
      footer={
        <>
          <button className="btn" onClick={onClose}>
            {t('actions.cancel', { ns: 'common' })}
          </button>
          {checked && 'def' in checked && checked.problems.length > 0 && (
            <button className="btn" data-testid="import-anyway" onClick={() => onApply(checked.def)}>
              {t('import.anyway')}
            </button>
          )}
          <button
            className="btn btn-primary"
            data-testid="import-apply"
            disabled={!text.trim()}
            onClick={() => {
              const c = ok ? checked : check(text);
              if (c && 'def' in c && c.problems.length === 0) onApply(c.def);
            }}
          >
            {t('import.apply')}
          </button>
        </>
      }
    >
      <p className="muted small">{t('import.paste')}</p>
      <textarea
        className="input yaml-input mono"
        data-testid="import-text"
        rows={12}
        spellCheck={false}
        value={text}
        onChange={(e) => {
          setText(e.target.value);
          setChecked(null);
        }}
      />
      <div className="row" style={{ marginTop: 8 }}>
        <label className="btn btn-sm">
          {t('import.file')}
          <input
            type="file"
            hidden
            data-testid="import-file"
            accept=".yaml,.yml,.json,application/yaml,application/json,text/yaml"
            onChange={async (e) => {
              const f = e.target.files?.[0];
              if (!f) return;
              const s = await f.text();
              setText(s);
              check(s);
            }}
          />
        </label>
        <button className="btn btn-sm" onClick={() => check(text)} disabled={!text.trim()}>
          {t('import.check')}
        </button>
      </div>
      {checked && 'syntax' in checked && (
        <div className="banner banner-error import-result" role="alert" data-testid="import-errors">
          <div>
            <strong>{t('import.invalid')}</strong>
            <ul>
              {checked.syntax.map((p, i) => (
                <li key={i}>
                  {p.line ? `${t('import.line', { line: p.line })}: ` : ''}
                  {p.path ? <code>{p.path}</code> : null} {t(`import.syntax.${p.code}`, p.args)}
                </li>
              ))}
            </ul>
          </div>
        </div>
      )}
      {checked && 'def' in checked && checked.problems.length > 0 && (
        <div className="import-result" data-testid="import-errors">
          <p className="field-error">{t('import.invalid')}</p>
          <ProblemList title={t('problems.title')} problems={checked.problems} />
        </div>
      )}
      {ok && 'def' in checked && (
        <div className="banner banner-info import-result">{t('import.ok', { nodes: checked.def.nodes.length, edges: checked.def.edges?.length ?? 0 })}</div>
      )}
    </Modal>
  );
}
