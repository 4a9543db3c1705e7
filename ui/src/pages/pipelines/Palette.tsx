// The palette: parts from GET /api/v1/parts grouped by the service that runs
// them, searchable, each with its title and description. Drag one onto the
// canvas (HTML5 drag and drop) or press Enter / double-click to add it.
import { memo, useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { uniqueTypes, type Part } from './graph';
import { usePartText } from './partText';

export const PART_MIME = 'application/x-ifc-part';
const GROUP_ORDER = ['resize', 'filter', 'detect'];

export const Palette = memo(function Palette({ parts, onAdd, disabled }: { parts: readonly Part[]; onAdd: (part: string) => void; disabled?: boolean }) {
  const { t } = useTranslation('pipelines');
  const text = usePartText();
  const [q, setQ] = useState('');
  const groups = useMemo(() => {
    const needle = q.trim().toLowerCase();
    // Shown texts are searched, and the API's English ones too.
    const shown = parts.map((p) => ({ ...p, title: text.title(p.id, p), description: text.description(p) }));
    const hit = (p: Part, i: number) =>
      !needle || [p.id, p.title ?? '', p.description ?? '', shown[i]!.title ?? '', shown[i]!.description ?? ''].some((s) => s.toLowerCase().includes(needle));
    const m = new Map<string, Part[]>();
    parts.forEach((p, i) => {
      if (!hit(p, i)) return;
      const g = GROUP_ORDER.includes(p.service) ? p.service : 'other';
      m.set(g, [...(m.get(g) ?? []), shown[i]!]);
    });
    return [...m.entries()].sort(([a], [b]) => (GROUP_ORDER.indexOf(a) + 1 || 99) - (GROUP_ORDER.indexOf(b) + 1 || 99));
  }, [parts, q, text]);
  return (
    <aside className="palette" aria-label={t('palette.title')}>
      <div className="palette-head">
        <h2>{t('palette.title')}</h2>
        <input className="input" type="search" placeholder={t('palette.search')} aria-label={t('palette.search')} value={q} onChange={(e) => setQ(e.target.value)} />
      </div>
      <div className="palette-list">
        {groups.length === 0 && <p className="muted small">{t('palette.none')}</p>}
        {groups.map(([g, ps]) => (
          <div key={g} className="palette-group">
            <h3>{t(`palette.groups.${g}`)}</h3>
            {ps.map((p) => (
              <div
                key={p.id}
                className={`palette-item svc-${GROUP_ORDER.includes(p.service) ? p.service : 'other'}${disabled ? ' disabled' : ''}`}
                data-testid={`palette-${p.id}`}
                draggable={!disabled}
                tabIndex={0}
                role="button"
                aria-disabled={disabled}
                title={p.description}
                onDragStart={(e) => {
                  e.dataTransfer.setData(PART_MIME, p.id);
                  e.dataTransfer.effectAllowed = 'move';
                }}
                onDoubleClick={() => !disabled && onAdd(p.id)}
                onKeyDown={(e) => e.key === 'Enter' && !disabled && onAdd(p.id)}
              >
                <div className="palette-item-top">
                  <span className="palette-title">{p.title ?? p.id}</span>
                  <span className="palette-ports">
                    {uniqueTypes(p.inputs).map((tp) => (
                      <span key={`i${tp}`} className={`chip chip-${tp}`} title={t(`types.${tp}`)} />
                    ))}
                    <span className="arrow">→</span>
                    {uniqueTypes(p.outputs).map((tp) => (
                      <span key={`o${tp}`} className={`chip chip-${tp}`} title={t(`types.${tp}`)} />
                    ))}
                  </span>
                </div>
                {p.description && <p className="palette-desc">{p.description}</p>}
              </div>
            ))}
          </div>
        ))}
        <p className="muted small palette-hint">{t('palette.hint')}</p>
      </div>
    </aside>
  );
});
