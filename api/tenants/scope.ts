import type { Request, RequestHandler } from 'express';
import { ForbiddenError, ValidationError } from '../../shared/errors';
import type { ClientCheck } from '../auth/client-check';

declare module 'express-serve-static-core' {
  interface Request {
    /** The tenant this request acts in ('' in a deployment without tenants); set by tenantScope. */
    tenant?: string;
  }
}

/** The request header that names the tenant, as Ed-Fi's Admin API names it. */
export const TENANT_HEADER = 'tenant';

/**
 * Sets `req.tenant` for the instance and job routes (after authentication).
 *
 * With tenants configured, the `tenant` header is required and must name one of them (400
 * otherwise: the list is no secret, GET /admin/settings shows it), and a client limited to some
 * tenants gets 403 for any other, configured or not, so the answer says nothing about which
 * tenants exist beyond its own. Instances of another tenant are then simply not found (404).
 *
 * Without tenants, a `tenant` header is refused (400): a script that believes it acts in one
 * tenant must not silently act on every instance of the deployment.
 */
export function tenantScope(tenants: readonly string[], clients: ClientCheck): RequestHandler {
  const configured = new Set(tenants);
  return async (req, _res, next) => {
    const header = headerOf(req);
    if (!configured.size) {
      if (header !== undefined) {
        throw new ValidationError('This deployment has no tenants (TENANTS is not set); send no tenant header.', {
          tenant: ['tenant header not accepted: this deployment has no tenants'],
        });
      }
      req.tenant = '';
      return next();
    }
    if (header === undefined) {
      throw new ValidationError('This deployment has tenants: send a tenant header naming one of them.', {
        tenant: ['tenant header is required (GET /admin/settings lists the tenants)'],
      });
    }
    const allowed = await clients.tenantsOf(req.principal!.clientId);
    if (allowed !== null && !allowed.includes(header)) {
      throw new ForbiddenError('This client may not act in the tenant the tenant header names.');
    }
    if (!configured.has(header)) {
      throw new ValidationError('The tenant header names no tenant of this deployment.', {
        tenant: ['unknown tenant (GET /admin/settings lists the tenants)'],
      });
    }
    req.tenant = header;
    next();
  };
}

/** The tenant header's value; absent or empty is undefined. */
function headerOf(req: Request): string | undefined {
  const value = req.headers[TENANT_HEADER];
  const text = Array.isArray(value) ? value.join(',') : value;
  return text === undefined || text.trim() === '' ? undefined : text.trim();
}

/** The tenants a client may see: the configured ones it is not barred from. */
export async function tenantsVisibleTo(
  tenants: readonly string[],
  clients: ClientCheck,
  clientId: string,
): Promise<string[]> {
  const allowed = await clients.tenantsOf(clientId);
  return tenants.filter((t) => allowed === null || allowed.includes(t));
}
