// ProblemList shows what blocks a save, each problem naming its node (click
// to select it) in the user's language; server problems keep their text.
import { useTranslation } from 'react-i18next';
import type { Problem } from './graph';
import { paramOf } from './problems';

export function useProblemText(): (p: Problem) => string {
  const { t } = useTranslation('pipelines');
  return (p) => {
    if (p.code === 'server') return p.message ?? '';
    const param = paramOf(p.field);
    if (param) return t('problems.param', { param, message: t(`paramErrors.${p.code}`, { ...p.args, defaultValue: p.code }) });
    return t(`problems.${p.code}`, { ...p.args, defaultValue: p.message ?? p.code });
  };
}

export function ProblemList({ title, problems, onSelect }: { title: string; problems: readonly Problem[]; onSelect?: (node: string) => void }) {
  const { t } = useTranslation('pipelines');
  const text = useProblemText();
  return (
    <div className="problem-list" role="alert">
      <div className="problem-head">
        <strong>{title}</strong>
        <span className="muted small">{t('problems.count', { count: problems.length })}</span>
      </div>
      <ul>
        {problems.slice(0, 8).map((p, i) => (
          <li key={i} data-code={p.code}>
            {p.node && (
              <button className="linkish mono" onClick={() => onSelect?.(p.node!)}>
                {p.node}
              </button>
            )}
            <span>{text(p)}</span>
          </li>
        ))}
        {problems.length > 8 && <li className="muted">…</li>}
      </ul>
    </div>
  );
}
