import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useImageURL } from '../../components/ui';
import { imageSrc, type RecordImage } from './api';
import { classColor, textColorOn } from '../../lib/overlay';
import { fitScale, mapBox, zoomStep, type Rect, type Size } from './overlay';

export interface OverlayBox extends Rect {
  label: string;
  score: number;
  class_id?: number;
}

/** DetectionOverlay draws boxes in image pixels; the SVG's viewBox scales them with the image. */
export function DetectionOverlay({ boxes, image, scale }: { boxes: OverlayBox[]; image: Size; scale: number }) {
  const font = 12 / (scale || 1);
  return (
    <svg className="rv-overlay" viewBox={`0 0 ${image.w} ${image.h}`} preserveAspectRatio="none" data-testid="detection-overlay" aria-hidden>
      {boxes.map((b, i) => {
        // The executions page and the server's annotated images use the same colours.
        const c = classColor(b.class_id, b.label);
        const text = `${b.label} ${Math.round(b.score * 100)}%`;
        const above = b.y - font * 1.4 >= 0;
        return (
          <g key={i}>
            <rect x={b.x} y={b.y} width={b.w} height={b.h} fill="none" stroke={c} strokeWidth={2} vectorEffect="non-scaling-stroke" />
            <rect x={b.x} y={above ? b.y - font * 1.4 : b.y} width={font * 0.62 * text.length + font * 0.6} height={font * 1.4} fill={c} />
            <text x={b.x + font * 0.3} y={(above ? b.y - font * 1.4 : b.y) + font * 1.05} fontSize={font} fill={textColorOn(b.class_id, b.label)} fontFamily="var(--mono)">
              {text}
            </text>
          </g>
        );
      })}
    </svg>
  );
}

export interface ViewerDetections {
  /** the record image (file id) the execution analysed */
  inputFileId: string | undefined;
  /** size of the frame the detector saw (its output image), when known */
  frame: Size | null;
  detections: { label: string; score: number; box: Rect; class_id?: number }[];
}

export function ImageViewer({ recordId, images, det }: { recordId: string; images: RecordImage[]; det: ViewerDetections | null }) {
  const { t } = useTranslation('records');
  const [index, setIndex] = useState(0);
  const [zoom, setZoom] = useState<'fit' | number>('fit');
  const [showBoxes, setShowBoxes] = useState(true);
  const [natural, setNatural] = useState<Size | null>(null);
  const viewport = useRef<HTMLDivElement>(null);
  const [vp, setVp] = useState<Size>({ w: 0, h: 0 });

  useEffect(() => {
    setIndex(0);
    setZoom('fit');
  }, [recordId]);
  const im = images[Math.min(index, images.length - 1)];
  const { url, error } = useImageURL(imageSrc(im));
  useEffect(() => setNatural(im && im.width && im.height ? { w: im.width, h: im.height } : null), [im]);

  useLayoutEffect(() => {
    const el = viewport.current;
    if (!el) return;
    const measure = () => setVp({ w: el.clientWidth, h: el.clientHeight });
    measure();
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  const size = natural ?? { w: 0, h: 0 };
  const fit = fitScale({ w: vp.w - 2, h: vp.h - 2 }, size);
  const scale = zoom === 'fit' ? fit : zoom;
  // Boxes belong to the image the execution analysed (its input), else the first.
  const boxesHere = !!det && (det.inputFileId ? im?.file_id === det.inputFileId : index === 0);
  const boxes = useMemo<OverlayBox[]>(() => {
    if (!det || !natural) return [];
    return det.detections.map((d) => ({ ...mapBox(d.box, det.frame, natural), label: d.label, score: d.score, class_id: d.class_id }));
  }, [det, natural]);

  return (
    <section className="card rv-viewer" aria-label={t('viewer.title')}>
      <div className="rv-viewer-bar">
        {images.length > 1 &&
          images.map((_, i) => (
            <button key={i} type="button" className={`btn btn-sm ${i === index ? 'btn-primary' : ''}`} onClick={() => setIndex(i)}>
              {t('viewer.imageN', { n: i + 1 })}
            </button>
          ))}
        {boxesHere && (
          <label className="row small rv-toggle">
            <input type="checkbox" checked={showBoxes} onChange={(e) => setShowBoxes(e.target.checked)} data-testid="toggle-boxes" />
            {t('viewer.boxes', { count: boxes.length })}
          </label>
        )}
        <span className="spacer" />
        <span className="muted small mono" data-testid="zoom-level">
          {Math.round(scale * 100)}%
        </span>
        <button type="button" className="btn btn-sm" aria-label={t('viewer.zoomOut')} title={t('viewer.zoomOut')} onClick={() => setZoom(zoomStep(scale, -1))}>
          −
        </button>
        <button type="button" className="btn btn-sm" aria-label={t('viewer.zoomIn')} title={t('viewer.zoomIn')} onClick={() => setZoom(zoomStep(scale, 1))}>
          +
        </button>
        <button type="button" className={`btn btn-sm ${zoom === 'fit' ? 'btn-primary' : ''}`} onClick={() => setZoom('fit')}>
          {t('viewer.fit')}
        </button>
        <button type="button" className={`btn btn-sm ${zoom === 1 ? 'btn-primary' : ''}`} onClick={() => setZoom(1)}>
          {t('viewer.actual')}
        </button>
      </div>
      <div className={`rv-viewport${zoom === 'fit' ? ' fit' : ''}`} ref={viewport}>
        {!im && <div className="empty">{t('viewer.noImage')}</div>}
        {im && error && <div className="empty">{error}</div>}
        {im && !error && (
          <div className="rv-stage" style={{ width: size.w * scale || '100%', height: size.h * scale || '100%' }}>
            {url && (
              <img
                src={url}
                alt={t('viewer.alt', { id: recordId })}
                draggable={false}
                onLoad={(e) => {
                  const el = e.currentTarget;
                  if (!natural || natural.w !== el.naturalWidth || natural.h !== el.naturalHeight) setNatural({ w: el.naturalWidth, h: el.naturalHeight });
                }}
              />
            )}
            {url && natural && boxesHere && showBoxes && <DetectionOverlay boxes={boxes} image={natural} scale={scale} />}
          </div>
        )}
      </div>
      {boxesHere && det?.frame && natural && (det.frame.w !== natural.w || det.frame.h !== natural.h) && (
        <div className="rv-viewer-note muted small">{t('viewer.frameNote', { w: det.frame.w, h: det.frame.h, iw: natural.w, ih: natural.h })}</div>
      )}
    </section>
  );
}
