// Enrollment token form rules, matching the API's (cloud/api/fleet.go).

/** validLine mirrors the server: 1..128 printable characters, no spaces, slashes or backslashes. */
export function validLine(s: string): boolean {
  if (s.length === 0 || [...s].length > 128) return false;
  // eslint-disable-next-line no-control-regex
  return !/[\s/\\\u0000-\u001f\u007f-\u009f]/u.test(s);
}

export const ttlChoices = [
  { key: 'h1', seconds: 3600 },
  { key: 'h24', seconds: 86_400 },
  { key: 'd7', seconds: 7 * 86_400 },
  { key: 'd30', seconds: 30 * 86_400 },
] as const;

export const defaultTTL = 86_400;
