/** OAuth scopes, named as Ed-Fi Admin API names them. */
export const SCOPES = {
  fullAccess: 'edfi_admin_api/full_access',
  readOnly: 'edfi_admin_api/read_only',
} as const;
export const ALL_SCOPES: readonly string[] = Object.values(SCOPES);

/** What a route needs: `read` is granted by either scope, `write` only by full access. */
export type Access = 'read' | 'write';

export function grants(scopes: readonly string[], access: Access): boolean {
  if (scopes.includes(SCOPES.fullAccess)) return true;
  return access === 'read' && scopes.includes(SCOPES.readOnly);
}

export function parseScopes(value: string): string[] {
  return [...new Set(value.split(/\s+/).filter(Boolean))];
}
