import { Router } from 'express';
import type { DataSource } from 'typeorm';
import { recordAudit } from '../../shared/audit';
import type { InventoryRunEntity } from '../../shared/database/entities';
import { ageSeconds } from '../../shared/inventory/drift';
import { type InventoryQueue, requestInventory } from '../../shared/inventory/queue';
import { InventoryStore } from '../../shared/inventory/store';
import { requireAccess } from '../auth/middleware';
import { onlyMethods } from '../http/problems';

export const INVENTORY_PATH = '/admin/inventory';

function runView(run: InventoryRunEntity | null, now: Date) {
  if (!run) return null;
  return {
    id: run.id,
    startedAt: run.startedAt.toISOString(),
    finishedAt: run.finishedAt?.toISOString() ?? null,
    ageSeconds: ageSeconds(run.finishedAt ?? run.startedAt, now),
    databaseCount: run.databaseCount,
    error: run.error,
  };
}

/**
 * The worker's inventory of the ODS server (docs/inventory.md). The API only reads what the
 * worker stored and asks for a run; it never looks at the ODS server itself.
 *
 * `tenants`: with tenants, an unknown database (its instance record gone) belongs to no tenant
 * the API can name, so its name is shown to no one; only the count is.
 */
export function inventoryRoutes(dataSource: DataSource, queue: InventoryQueue, tenants: readonly string[]): Router {
  const router = Router();
  const store = new InventoryStore(dataSource);

  router.get(INVENTORY_PATH, requireAccess('read'), async (_req, res) => {
    const now = new Date();
    const [lastRun, factsRun, unknown] = await Promise.all([
      store.lastRun(),
      store.factsRun(),
      store.unknownDatabases(),
    ]);
    res.json({
      lastRun: runView(lastRun, now),
      lastSuccessfulRun: runView(factsRun, now),
      unknownDatabaseCount: unknown.length,
      unknownDatabases: tenants.length
        ? null
        : unknown.map((d) => ({
            databaseName: d.databaseName,
            markerInstanceId: d.markerInstanceId,
            observedAt: d.observedAt.toISOString(),
            sizeBytes: d.sizeBytes,
            state: d.state,
          })),
      _links: { self: { href: INVENTORY_PATH }, refresh: { href: INVENTORY_PATH } },
    });
  });

  // Asks a worker for a run now; answered at once (202), the run's result shows in GET.
  router.post(INVENTORY_PATH, requireAccess('write'), async (req, res) => {
    const queued = await requestInventory(queue);
    await recordAudit(dataSource.manager, {
      actor: req.principal!.clientId,
      action: 'inventory.request',
      outcome: 'accepted',
      requestId: req.requestId,
      clientRequestId: req.clientRequestId,
      details: { queued },
    });
    res
      .status(202)
      .location(INVENTORY_PATH)
      .json({ queued, _links: { inventory: { href: INVENTORY_PATH } } });
  });
  router.all(INVENTORY_PATH, onlyMethods('GET', 'POST'));
  return router;
}
