import { useTranslation } from 'react-i18next';
import { shortcuts } from './keyboard';

const glyph: Record<string, string> = { ArrowDown: '↓', ArrowUp: '↑' };

/** ShortcutLegend lists the review keys, always in view. */
export function ShortcutLegend() {
  const { t } = useTranslation('records');
  return (
    <dl className="rv-legend" aria-label={t('keys.title')} data-testid="shortcut-legend">
      {shortcuts.map((s) => (
        <div key={s.action} className="rv-legend-item">
          <dt>
            {s.keys.map((k) => (
              <kbd key={k} className="kbd">
                {glyph[k] ?? k}
              </kbd>
            ))}
          </dt>
          <dd>{t(`keys.${s.action}`)}</dd>
        </div>
      ))}
    </dl>
  );
}
