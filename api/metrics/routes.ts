import { Router } from 'express';
import { Gauge, Registry } from 'prom-client';
import type { DataSource } from 'typeorm';
import { InstanceEntity } from '../../shared/database/entities';
import { ageSeconds, DRIFT_KINDS } from '../../shared/inventory/drift';
import { InventoryStore } from '../../shared/inventory/store';
import { INSTANCE_STATUSES } from '../../shared/instances/status';
import { requireAccess } from '../auth/middleware';
import { onlyMethods } from '../http/problems';

export const METRICS_PATH = '/metrics';

/**
 * Prometheus metrics, computed from the admin database at each scrape (so every API replica
 * answers the same). Behind authentication with read access, like the admin routes.
 */
export function metricsRoutes(dataSource: DataSource): Router {
  const store = new InventoryStore(dataSource);
  const registry = new Registry();
  const instances = new Gauge({
    name: 'odsim_instances',
    help: 'Instances by status (Deleted included).',
    labelNames: ['status'] as const,
    registers: [registry],
  });
  const drift = new Gauge({
    name: 'odsim_instances_drift',
    help: 'Instances whose database was dropped, renamed or re-marked outside the manager, by kind (docs/inventory.md).',
    labelNames: ['kind'] as const,
    registers: [registry],
  });
  const age = new Gauge({
    name: 'odsim_inventory_age_seconds',
    help: 'Seconds since the last successful inventory run finished; -1 before the first.',
    registers: [registry],
  });
  const unknown = new Gauge({
    name: 'odsim_inventory_unknown_databases',
    help: "Databases carrying this manager's marker for no live instance.",
    registers: [registry],
  });

  async function collect(): Promise<void> {
    const byStatus = await dataSource
      .getRepository(InstanceEntity)
      .createQueryBuilder('i')
      .select('i.status', 'status')
      .addSelect('COUNT(*)', 'n')
      .groupBy('i.status')
      .getRawMany<{ status: string; n: string | number }>();
    const counts = new Map(byStatus.map((r) => [r.status, Number(r.n)]));
    for (const status of INSTANCE_STATUSES) instances.set({ status }, counts.get(status) ?? 0);
    const [driftCounts, run, unknownDatabases] = await Promise.all([
      store.driftCounts(),
      store.factsRun(),
      store.unknownDatabases(),
    ]);
    for (const kind of DRIFT_KINDS) drift.set({ kind }, driftCounts[kind]);
    age.set(run?.finishedAt ? ageSeconds(run.finishedAt, new Date()) : -1);
    unknown.set(unknownDatabases.length);
  }

  const router = Router();
  router.get(METRICS_PATH, requireAccess('read'), async (_req, res) => {
    await collect();
    res.set('Content-Type', registry.contentType).send(await registry.metrics());
  });
  router.all(METRICS_PATH, onlyMethods('GET'));
  return router;
}
