/** The roles the one container image runs (shared/entrypoint.ts); kept apart so the healthcheck loads nothing else. */
export const ROLES = ['api', 'worker'] as const;
export type Role = (typeof ROLES)[number];

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}
