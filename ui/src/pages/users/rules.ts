// The account rules of the API (cloud/auth: ValidUsername, MinPasswordLen),
// checked as the administrator types so the form says what is wrong before
// the server does. The server checks again; these only mirror it.

export const roles = ['admin', 'qa_manager', 'inspector', 'integrator'] as const;
export type Role = (typeof roles)[number];

export const minUsername = 3;
export const maxUsername = 64;
export const minPassword = 12;
export const maxPassword = 1024;

export type UsernameProblem = 'required' | 'length' | 'chars' | 'taken' | null;
export type PasswordProblem = 'required' | 'short' | 'long' | null;

const usernameRe = /^[a-z0-9][a-z0-9._-]*$/;

/** usernameProblem names what is wrong with a new username, or null. */
export function usernameProblem(name: string, existing: readonly string[] = []): UsernameProblem {
  if (name === '') return 'required';
  if (!usernameRe.test(name)) return 'chars';
  if (name.length < minUsername || name.length > maxUsername) return 'length';
  if (existing.includes(name)) return 'taken';
  return null;
}

/** passwordProblem names what is wrong with a new password, or null (lengths in UTF-8 bytes, as the server counts). */
export function passwordProblem(pw: string): PasswordProblem {
  if (pw === '') return 'required';
  const n = new TextEncoder().encode(pw).length;
  if (n < minPassword) return 'short';
  if (n > maxPassword) return 'long';
  return null;
}

export function isRole(r: string): r is Role {
  return (roles as readonly string[]).includes(r);
}
