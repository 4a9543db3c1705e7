// The big picture: the live WHEP video (or, without WebRTC, the still-frame
// live view), or the captured still with the pre-filter's verdict drawn over it.
import type { RefObject } from 'react';
import { useTranslation } from 'react-i18next';
import type { EdgeSchemas } from '../../api/client';
import type { StillsView } from './useStills';
import type { WhepView } from './useWhep';

export type Capture = EdgeSchemas['CaptureJSON'];
export type Prefilter = EdgeSchemas['PrefilterJSON'];

export interface Toast {
  result: 'OK' | 'NG';
  defect: string;
  duplicate: boolean;
}

export function Stage({ videoRef, whep, stills = null, capture, imageBase, cameraUp, agentUp, toast }: {
  videoRef: RefObject<HTMLVideoElement | null>;
  whep: WhepView;
  /** The still-frame live view, when it replaces the WHEP video. */
  stills?: StillsView | null;
  capture: Capture | null;
  imageBase: string;
  cameraUp: boolean;
  agentUp: boolean;
  toast: Toast | null;
}) {
  const { t } = useTranslation('inspect');
  const live = !capture;
  const frame = stills?.frame ?? null;
  const playing = stills ? stills.state === 'playing' && frame !== null : whep.state === 'connected';
  const retrying = (stills ? stills.state : whep.state) === 'retrying';
  const liveError = stills ? stills.error : whep.error;
  let notice: string | null = null;
  if (live) {
    if (!agentUp) notice = t('stage.agentDown');
    else if (!cameraUp) notice = t('stage.cameraUnavailable');
    else if (!playing) notice = retrying ? t('stage.reconnecting') : t('stage.connecting');
  }
  return (
    <div className={`insp-stage ${capture ? (capture.prefilter.suspect ? 'is-suspect' : 'is-clear') : 'is-live'}`} data-testid="stage">
      <video ref={videoRef} className={`insp-video ${live && !stills ? '' : 'hidden'}`} autoPlay muted playsInline data-testid="live-video" />
      {live && frame && (
        <img className="insp-video" src={frame.url} alt={t('stage.liveAlt')} data-testid="live-still" data-frame-seq={frame.seq} />
      )}
      {live && (
        <div className="insp-stage-top">
          <span className="insp-stage-tags">
            <span className={`insp-live-tag ${playing ? 'on' : ''}`}>
              <span className="dot" /> {t('stage.live')}
            </span>
            {stills && (
              <span className="insp-still-badge" title={t('stage.stillModeHint')} data-testid="still-mode">
                {t('stage.stillMode')}
              </span>
            )}
          </span>
          {!stills && whep.overlay && whep.state === 'connected' && (
            <span className={`insp-live-score ${whep.overlay.suspect ? 'suspect' : ''}`} title={whep.overlay.model}>
              {t('stage.liveScore', { score: whep.overlay.score.toFixed(2) })}
            </span>
          )}
        </div>
      )}
      {notice && (
        <div className="insp-stage-notice" data-testid="stage-notice">
          <span className={playing || !cameraUp || !agentUp ? '' : 'spinner'} />
          <strong>{notice}</strong>
          {live && cameraUp && agentUp && liveError && <small>{liveError}</small>}
        </div>
      )}
      {capture && (
        <>
          <img className="insp-still" src={`${imageBase}${capture.image_url}`} alt={t('stage.stillAlt')} data-testid="capture-image" />
          <PrefilterOverlay p={capture.prefilter} />
        </>
      )}
      {toast && <SavedToast toast={toast} />}
    </div>
  );
}

/** scorePercent places a score on the 0..1 gauge. */
export function scorePercent(x: number): number {
  return Math.max(0, Math.min(100, x * 100));
}

export function PrefilterOverlay({ p }: { p: Prefilter }) {
  const { t } = useTranslation('inspect');
  return (
    <div className="insp-overlay" data-testid="prefilter" data-suspect={p.suspect}>
      <div className={`insp-suggest ${p.suspect ? 'suspect' : 'clear'}`} data-testid="suggestion">
        <span className="insp-suggest-label">{t('prefilter.suggests')}</span>
        <strong>{p.suspect ? t('prefilter.suspect') : t('prefilter.clear')}</strong>
      </div>
      <div className="insp-gauge" aria-label={t('prefilter.scoreAria', { score: p.score.toFixed(3), threshold: p.threshold.toFixed(3) })}>
        <div className="insp-gauge-head">
          <span>{t('prefilter.score')}</span>
          <strong>{p.score.toFixed(2)}</strong>
          <span className="insp-gauge-thr">{t('prefilter.threshold', { value: p.threshold.toFixed(2) })}</span>
        </div>
        <div className="insp-gauge-bar">
          <div className={`insp-gauge-fill ${p.suspect ? 'suspect' : ''}`} style={{ width: `${scorePercent(p.score)}%` }} />
          <div className="insp-gauge-mark" style={{ left: `${scorePercent(p.threshold)}%` }} />
        </div>
        <div className="insp-gauge-model">
          {p.model_name} {p.model_version}
        </div>
      </div>
    </div>
  );
}

function SavedToast({ toast }: { toast: Toast }) {
  const { t } = useTranslation('inspect');
  return (
    <div className={`insp-toast ${toast.result === 'OK' ? 'ok' : 'ng'}`} role="status" data-testid="saved-toast">
      <span className="insp-toast-check" aria-hidden>
        ✓
      </span>
      <div>
        <strong>{toast.result === 'OK' ? t('saved.ok') : t('saved.ng', { defect: toast.defect })}</strong>
        <span>{toast.duplicate ? t('saved.duplicate') : t('saved.queued')}</span>
      </div>
    </div>
  );
}
