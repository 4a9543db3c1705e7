// Shared building blocks. Screens compose these so the product looks like
// one product; anything screen-specific stays with the screen.
import { useEffect, useState, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { authedFetch } from '../api/client';

export function PageHeader({ title, subtitle, actions }: { title: ReactNode; subtitle?: ReactNode; actions?: ReactNode }) {
  return (
    <div className="page-header">
      <div>
        <h1>{title}</h1>
        {subtitle && <p>{subtitle}</p>}
      </div>
      {actions && <div className="page-actions">{actions}</div>}
    </div>
  );
}

export function Card({ title, actions, children, className }: { title?: ReactNode; actions?: ReactNode; children: ReactNode; className?: string }) {
  return (
    <section className={`card ${className ?? ''}`}>
      {(title || actions) && (
        <div className="card-title">
          {title && <h2>{title}</h2>}
          {actions}
        </div>
      )}
      <div className="card-body">{children}</div>
    </section>
  );
}

export type Tone = 'ok' | 'ng' | 'warn' | 'info' | 'neutral';

export function Badge({ tone = 'neutral', children, title }: { tone?: Tone; children: ReactNode; title?: string }) {
  return (
    <span className={`badge ${tone === 'neutral' ? '' : `badge-${tone}`}`} title={title}>
      {children}
    </span>
  );
}

/** VerdictBadge shows OK/NG in the colours inspectors know. */
export function VerdictBadge({ verdict }: { verdict: string | undefined }) {
  const { t } = useTranslation();
  const v = verdict === 'OK' || verdict === 'NG' ? verdict : 'UNSPECIFIED';
  return <Badge tone={v === 'OK' ? 'ok' : v === 'NG' ? 'ng' : 'neutral'}>{t(`verdict.${v}`)}</Badge>;
}

const statusTone: Record<string, Tone> = { succeeded: 'ok', failed: 'ng', running: 'info', queued: 'neutral', cancelled: 'warn', skipped: 'neutral', waiting: 'warn' };

/** StatusBadge shows an execution or node status. */
export function StatusBadge({ status }: { status: string | undefined }) {
  const { t } = useTranslation();
  const s = status ?? 'queued';
  return (
    <Badge tone={statusTone[s] ?? 'neutral'}>
      <span className="dot" />
      {t(`status.${s}`, { defaultValue: s })}
    </Badge>
  );
}

export function Spinner({ label }: { label?: string }) {
  return <span className="spinner" role="status" aria-label={label ?? 'loading'} />;
}

export function Loading() {
  const { t } = useTranslation();
  return (
    <div className="empty row" style={{ justifyContent: 'center' }}>
      <Spinner /> {t('loading')}
    </div>
  );
}

export function Empty({ children }: { children?: ReactNode }) {
  const { t } = useTranslation();
  return <div className="empty">{children ?? t('empty')}</div>;
}

export function ErrorBanner({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  const { t } = useTranslation();
  if (!error) return null;
  const message = error instanceof Error ? error.message : String(error);
  return (
    <div className="banner banner-error" role="alert">
      <span>{t('error', { message })}</span>
      {onRetry && (
        <button className="btn btn-sm" onClick={onRetry}>
          {t('actions.retry')}
        </button>
      )}
    </div>
  );
}

export function Modal({ title, onClose, children, footer }: { title: ReactNode; onClose: () => void; children: ReactNode; footer?: ReactNode }) {
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => e.key === 'Escape' && onClose();
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [onClose]);
  return (
    <div className="modal-backdrop" onMouseDown={(e) => e.target === e.currentTarget && onClose()}>
      <div className="modal" role="dialog" aria-modal="true">
        <div className="modal-head">
          <h2>{title}</h2>
          <button className="btn btn-ghost btn-sm" onClick={onClose} aria-label="close">
            ✕
          </button>
        </div>
        <div className="modal-body">{children}</div>
        {footer && <div className="modal-foot">{footer}</div>}
      </div>
    </div>
  );
}

/**
 * useImageURL returns a URL an <img> can show for src: same-origin API URLs
 * are fetched with the bearer token into an object URL; absolute URLs
 * (presigned or signed) and data: URLs are used as they are.
 */
export function useImageURL(src: string | undefined | null): { url: string | null; error: string | null } {
  const [state, setState] = useState<{ url: string | null; error: string | null }>({ url: null, error: null });
  useEffect(() => {
    if (!src) {
      setState({ url: null, error: null });
      return;
    }
    const needsAuth = src.startsWith('/api/') && !src.includes('sig=');
    if (!needsAuth) {
      setState({ url: src, error: null });
      return;
    }
    let cancelled = false;
    let objectURL: string | null = null;
    authedFetch(src)
      .then(async (res) => {
        if (!res.ok) throw new Error(`${res.status} ${res.statusText}`);
        objectURL = URL.createObjectURL(await res.blob());
        if (!cancelled) setState({ url: objectURL, error: null });
      })
      .catch((e: unknown) => !cancelled && setState({ url: null, error: e instanceof Error ? e.message : String(e) }));
    return () => {
      cancelled = true;
      if (objectURL) URL.revokeObjectURL(objectURL);
    };
  }, [src]);
  return state;
}

export function AuthedImage({ src, alt, className, style }: { src: string | undefined | null; alt: string; className?: string; style?: React.CSSProperties }) {
  const { url, error } = useImageURL(src);
  if (error) return <div className={`empty ${className ?? ''}`}>{error}</div>;
  if (!url) return <div className={className} style={{ ...style, background: 'var(--surface-2)' }} />;
  return <img src={url} alt={alt} className={className} style={style} />;
}
