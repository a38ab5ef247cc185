/**
 * Tenants of a multi-tenant ODS/API 7 (one EdFi_Admin and EdFi_Security per tenant). The API
 * and the worker both read `TENANTS` (ids only); the worker also reads each tenant's EdFi_Admin
 * settings. Without tenants the deployment has one EdFi_Admin, and instances carry tenant ''.
 */
export const TENANT_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** `TENANTS=district-a,district-b` → ids, each checked; duplicates refused. */
export function parseTenantIds(value: string | undefined): string[] {
  const ids = (value ?? '')
    .split(',')
    .map((id) => id.trim())
    .filter(Boolean);
  const bad = ids.filter((id) => !TENANT_ID.test(id));
  if (bad.length) {
    throw new Error(`TENANTS: ${bad.join(', ')} not valid (lower-case letters, digits and '-', at most 63)`);
  }
  if (new Set(ids).size !== ids.length) throw new Error('TENANTS lists a tenant twice');
  return ids;
}

/** The suffix of a tenant's own settings: `EDFI_ADMIN_DATABASE_URL_DISTRICT_A` for `district-a`. */
export function tenantEnvSuffix(id: string): string {
  return id.toUpperCase().replace(/-/g, '_');
}
