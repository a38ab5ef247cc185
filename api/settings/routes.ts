import { Router } from 'express';
import { requireAccess } from '../auth/middleware';
import type { ClientCheck } from '../auth/client-check';
import { onlyMethods } from '../http/problems';
import type { ContextMode } from '../instances/context-mode';
import type { DeletionPolicy } from '../instances/protection';
import { tenantsVisibleTo } from '../tenants/scope';

/**
 * What a client (the web UI first) needs to build a create form: the context keys each instance
 * carries, whether databaseName can be left out, and the tenants this client may act in,
 * whether instances can be deleted at all (the UI then says why it shows no delete button), and
 * the engine (a copy on PostgreSQL ends the source's sessions: the form asks for consent).
 * Nothing secret: no URL, key or credential.
 */
export function settingsRoutes(
  mode: ContextMode,
  tenants: readonly string[],
  clients: ClientCheck,
  deletion: DeletionPolicy,
  /** ODS_ENGINE: a copy's form asks for disconnectSource on PostgreSQL only (docs/copy.md). */
  engine: string,
): Router {
  const router = Router();
  router.get('/admin/settings', requireAccess('read'), async (req, res) => {
    res.json({
      ...mode.settings,
      tenants: await tenantsVisibleTo(tenants, clients, req.principal!.clientId),
      instanceDeletesEnabled: deletion.deletesEnabled,
      engine,
    });
  });
  router.all('/admin/settings', onlyMethods('GET'));
  return router;
}
