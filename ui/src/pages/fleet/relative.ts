// Relative times for the fleet ("3 min ago"), in the UI language.

const units: [Intl.RelativeTimeFormatUnit, number][] = [
  ['second', 60],
  ['minute', 60],
  ['hour', 24],
  ['day', 30],
  ['month', 12],
  ['year', Number.POSITIVE_INFINITY],
];

/**
 * formatRelative renders iso relative to now ("5 min ago", "in 2 hours"),
 * past times rounded down (59 s ago is not yet "1 min ago"), future ones
 * to the nearest unit (a 24 h token expiring in 23 h 59 min says "in 24 hr");
 * null or invalid input renders as null.
 */
export function formatRelative(iso: string | undefined | null, now: number, lang: string): string | null {
  if (!iso) return null;
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return null;
  const fmt = new Intl.RelativeTimeFormat(lang, { numeric: 'auto', style: 'short' });
  let v = (t - now) / 1000;
  if (Math.abs(v) < 5) return fmt.format(0, 'second');
  for (const [unit, size] of units) {
    if (Math.abs(v) < size) return fmt.format(v < 0 ? -Math.floor(-v) : Math.round(v), unit);
    v /= size;
  }
  return null;
}

/** ageMs is how long ago iso was (null when absent or invalid). */
export function ageMs(iso: string | undefined | null, now: number): number | null {
  if (!iso) return null;
  const t = Date.parse(iso);
  return Number.isFinite(t) ? Math.max(0, now - t) : null;
}
