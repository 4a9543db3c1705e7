// DetectionOverlay shows an image with detection boxes drawn over it as SVG,
// scaled to whatever size the image is displayed at. Self-contained (its own
// CSS, no page state) so other screens can show detections the same way:
//   <DetectionOverlay src={url} detections={dets} />
import { useEffect, useRef, useState } from 'react';
import { useImageURL } from '../../components/ui';
import { placeBoxes, type OverlayDetection, type Size } from './overlay';
import './DetectionOverlay.css';

export interface DetectionOverlayProps {
  /** Image URL: /api/... URLs are fetched with the bearer, others used as they are. */
  src: string | null | undefined;
  alt: string;
  detections: OverlayDetection[];
  /** Pixel size the boxes refer to; default the image's natural size. */
  coordSize?: Size;
  /** Which labels to draw: all, only the highlighted box's, or none (e.g. when the image already carries them). */
  labels?: 'all' | 'highlighted' | 'none';
  /** Draw the boxes at all. */
  showBoxes?: boolean;
  /** Index (into detections) of the box to emphasise. */
  highlighted?: number | null;
  onHighlight?: (index: number | null) => void;
  /** Largest displayed height in CSS pixels. */
  maxHeight?: number;
  className?: string;
  testId?: string;
  /** Called when the image fails to load (e.g. a signed URL expired) so the owner can fetch a fresh URL. */
  onImageError?: () => void;
}

export function DetectionOverlay({
  src,
  alt,
  detections,
  coordSize,
  labels = 'all',
  showBoxes = true,
  highlighted = null,
  onHighlight,
  maxHeight = 560,
  className,
  testId,
  onImageError,
}: DetectionOverlayProps) {
  const { url, error } = useImageURL(src);
  const imgRef = useRef<HTMLImageElement>(null);
  const [natural, setNatural] = useState<Size>({ width: 0, height: 0 });
  const [display, setDisplay] = useState<Size>({ width: 0, height: 0 });

  useEffect(() => {
    const img = imgRef.current;
    if (!img) return;
    const measure = () => setDisplay({ width: img.clientWidth, height: img.clientHeight });
    measure();
    if (typeof ResizeObserver === 'undefined') return;
    const ro = new ResizeObserver(measure);
    ro.observe(img);
    return () => ro.disconnect();
  }, [url]);

  if (error) {
    return (
      <div className={`detov detov-empty ${className ?? ''}`} role="alert">
        {error}
      </div>
    );
  }
  if (!url) return <div className={`detov detov-loading ${className ?? ''}`} style={{ height: Math.min(maxHeight, 320) }} aria-busy="true" />;

  const coord = coordSize ?? natural;
  const placed = showBoxes ? placeBoxes(detections, coord, display) : [];
  // Draw the highlighted box last so it sits on top.
  const ordered = highlighted === null ? placed : [...placed.filter((p) => p.index !== highlighted), ...placed.filter((p) => p.index === highlighted)];
  return (
    <div className={`detov ${className ?? ''}`} data-testid={testId}>
      <img
        ref={imgRef}
        src={url}
        alt={alt}
        style={{ maxHeight }}
        onError={onImageError}
        onLoad={(e) => {
          const img = e.currentTarget;
          setNatural({ width: img.naturalWidth, height: img.naturalHeight });
          setDisplay({ width: img.clientWidth, height: img.clientHeight });
        }}
      />
      {display.width > 0 && ordered.length > 0 && (
        <svg className="detov-svg" viewBox={`0 0 ${display.width} ${display.height}`} width={display.width} height={display.height} aria-hidden>
          {ordered.map((p) => {
            const hi = p.index === highlighted;
            const dim = highlighted !== null && !hi;
            const showLabel = labels === 'all' || (labels === 'highlighted' && hi);
            return (
              <g
                key={p.index}
                className={`detov-box${hi ? ' hi' : ''}${dim ? ' dim' : ''}`}
                data-testid="detection-box"
                onMouseEnter={onHighlight ? () => onHighlight(p.index) : undefined}
                onMouseLeave={onHighlight ? () => onHighlight(null) : undefined}
              >
                <rect x={p.x} y={p.y} width={p.w} height={p.h} stroke={p.color} fill={hi ? p.color : 'transparent'} fillOpacity={hi ? 0.12 : 0} strokeWidth={hi ? 3 : 2} />
                {showLabel && (
                  <g className="detov-label">
                    <rect x={p.label.x} y={p.label.y} width={p.label.w} height={p.label.h} fill={p.color} rx={2} />
                    <text x={p.label.x + 4} y={p.label.y + p.label.h / 2} fill={p.textColor} dominantBaseline="central">
                      {p.text}
                    </text>
                  </g>
                )}
              </g>
            );
          })}
        </svg>
      )}
    </div>
  );
}
