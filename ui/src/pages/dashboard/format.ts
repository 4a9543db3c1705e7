// Numbers and times on the dashboard, in the user's language.
import type { Bucket } from './stats';

/** Fmt formats the dashboard's numbers, percentages and bucket labels for one language. */
export interface Fmt {
  locale: string;
  num: (n: number) => string;
  /** pct formats a ratio (0..1) as a percentage with `digits` decimals (default 1). */
  pct: (ratio: number, digits?: number) => string;
  /** bucket labels a trend bucket start on an axis; withDate adds the day for hourly buckets spanning days. */
  bucket: (iso: string, bucket: Bucket, withDate: boolean) => string;
  /** range describes [since, until) as whole days when it is day-aligned. */
  range: (since: Date, until: Date) => string;
}

export function localeOf(lang: string): string {
  return lang.startsWith('ja') ? 'ja-JP' : 'en-GB';
}

export function makeFmt(lang: string): Fmt {
  const locale = localeOf(lang);
  const num = new Intl.NumberFormat(locale);
  const pcts = new Map<number, Intl.NumberFormat>();
  const pctFmt = (digits: number) => {
    let f = pcts.get(digits);
    if (!f) {
      f = new Intl.NumberFormat(locale, { style: 'percent', minimumFractionDigits: digits, maximumFractionDigits: digits });
      pcts.set(digits, f);
    }
    return f;
  };
  const hour = new Intl.DateTimeFormat(locale, { hour: '2-digit', minute: '2-digit', hour12: false });
  const day = new Intl.DateTimeFormat(locale, { month: 'numeric', day: 'numeric' });
  const dayHour = new Intl.DateTimeFormat(locale, { month: 'numeric', day: 'numeric', hour: '2-digit', minute: '2-digit', hour12: false });
  const fullDay = new Intl.DateTimeFormat(locale, { year: 'numeric', month: 'short', day: 'numeric', weekday: 'short' });
  return {
    locale,
    num: (n) => (Number.isFinite(n) ? num.format(n) : '—'),
    pct: (r, digits = 1) => (Number.isFinite(r) ? pctFmt(digits).format(r) : '—'),
    bucket: (iso, b, withDate) => {
      const d = new Date(iso);
      if (Number.isNaN(d.getTime())) return iso;
      if (b === 'day') return day.format(d);
      return withDate ? dayHour.format(d) : hour.format(d);
    },
    range: (since, until) => {
      const last = new Date(until.getTime() - 1);
      const a = fullDay.format(since);
      const b = fullDay.format(last);
      return a === b ? a : `${a} – ${b}`;
    },
  };
}
