import { useTranslation } from 'react-i18next';
import { legend, type Mode } from './keyboard';

/** ShortcutLegend lists the keys that work right now. */
export function ShortcutLegend({ mode }: { mode: Mode }) {
  const { t } = useTranslation('inspect');
  const all: Mode[] = ['live', 'review', 'ng'];
  return (
    <section className="insp-panel insp-legend" aria-labelledby="insp-keys" data-testid="shortcut-legend">
      <div className="insp-panel-head">
        <h2 id="insp-keys">{t('keys.title')}</h2>
      </div>
      {all.map((m) => (
        <ul key={m} className={`insp-legend-group ${m === mode ? 'current' : ''}`}>
          <li className="insp-legend-when">{t(`keys.when.${m}`)}</li>
          {legend(m).map(([keys, what]) => (
            <li key={what}>
              <span className="insp-legend-keys">
                {keys.map((k) => (
                  <kbd key={k} className="insp-kbd">
                    {k}
                  </kbd>
                ))}
              </span>
              <span>{t(what)}</span>
            </li>
          ))}
        </ul>
      ))}
      <p className="insp-legend-note">{t('keys.typing')}</p>
    </section>
  );
}
