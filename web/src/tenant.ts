/**
 * The tenant the UI acts in, when the deployment has tenants: chosen in the header, kept for the
 * tab (sessionStorage), and sent as the `tenant` header on instance and job calls (api.ts).
 */
const KEY = 'odsim.tenant';

export function currentTenant(): string | null {
  return sessionStorage.getItem(KEY);
}

export function chooseTenant(tenant: string | null): void {
  if (tenant) sessionStorage.setItem(KEY, tenant);
  else sessionStorage.removeItem(KEY);
}

/** The routes that act in one tenant (api/tenants/scope.ts on the server). */
export function isTenantScoped(path: string): boolean {
  return /^\/admin\/(instances|jobs|events)(\/|\?|$)/.test(path);
}
