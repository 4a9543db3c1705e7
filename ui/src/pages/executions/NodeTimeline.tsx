// NodeTimeline draws the per-node Gantt chart of an execution: one row per
// node, its bar spanning start to finish on a shared time axis.
import { useTranslation } from 'react-i18next';
import { StatusBadge } from '../../components/ui';
import type { CloudSchemas } from '../../api/client';
import { formatElapsed, formatTick, type DurationUnits } from './format';
import { layoutTimeline } from './timeline';

type Execution = CloudSchemas['Execution'];

export function useUnits(): DurationUnits {
  const { t } = useTranslation('executions');
  return { ms: t('units.ms'), s: t('units.s'), min: t('units.min'), h: t('units.h') };
}

/** labelSide puts a bar's duration label after it, before it near the right edge, or inside a bar that fills the track. */
export function labelSide(left: number, width: number): 'after' | 'before' | 'inside' {
  if (left + width <= 0.82) return 'after';
  return left >= 0.18 ? 'before' : 'inside';
}

const pct = (x: number) => `${(x * 100).toFixed(3)}%`;

export function NodeTimeline({ execution, parts, now }: { execution: Execution; parts?: Record<string, string>; now: number }) {
  const { t } = useTranslation('executions');
  const units = useUnits();
  const layout = layoutTimeline(execution, now);
  return (
    <div className="tl" data-testid="timeline">
      <div className="tl-row tl-axis" aria-hidden>
        <div />
        <div className="tl-track">
          {layout.ticks.map((tick) => (
            <span key={tick.ms} className="tl-tick" style={{ left: pct(tick.at) }}>
              {formatTick(tick.ms, units)}
            </span>
          ))}
        </div>
        <div />
      </div>
      {layout.bars.map((b) => (
        <div key={b.nodeId} className={`tl-row${b.status === 'failed' ? ' tl-row-error' : ''}`} data-testid="timeline-row" data-node={b.nodeId}>
          <div className="tl-name">
            <span className="tl-node mono">{b.nodeId}</span>
            {parts?.[b.nodeId] && parts[b.nodeId] !== b.nodeId && <span className="tl-part">{parts[b.nodeId]}</span>}
          </div>
          <div className="tl-track">
            {layout.ticks.map((tick) => (
              <span key={tick.ms} className="tl-grid" style={{ left: pct(tick.at) }} />
            ))}
            {b.started ? (
              <div
                className={`tl-bar tl-${b.status}${b.running ? ' tl-live' : ''}`}
                data-testid="timeline-bar"
                data-status={b.status}
                style={{ left: pct(b.left), width: pct(b.width) }}
                title={`${b.nodeId} · ${t(`status.${b.status}`, { ns: 'common' })} · ${formatElapsed(b.durationMs, units)} · +${formatElapsed(b.offsetMs, units)}`}
              >
                <span className={`tl-bar-label tl-label-${labelSide(b.left, b.width)}`}>{formatElapsed(b.durationMs, units)}</span>
              </div>
            ) : (
              <span className="tl-pending" title={b.error}>
                {t('detail.notStarted')}
                {b.error && b.status !== 'failed' && <span className="tl-pending-why"> — {b.error}</span>}
              </span>
            )}
          </div>
          <div className="tl-meta">
            <StatusBadge status={b.status} />
            {b.attempts > 1 && (
              <span className="badge badge-warn" title={t('detail.attempts', { count: b.attempts })}>
                {t('detail.retried', { count: b.attempts })}
              </span>
            )}
          </div>
          {b.error && b.status === 'failed' && (
            <div className="tl-error" role="alert">
              <strong>{t('detail.nodeFailed', { node: b.nodeId })}</strong> {b.error}
            </div>
          )}
          {b.error && b.status !== 'failed' && b.started && <div className="tl-note">{b.error}</div>}
        </div>
      ))}
    </div>
  );
}
