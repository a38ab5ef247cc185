import type { Queue } from 'bullmq';
import { Gauge, Registry } from 'prom-client';
import type { DataSource } from 'typeorm';
import { InstanceEntity } from '../../shared/database/entities';
import { ageSeconds, DRIFT_KINDS } from '../../shared/inventory/drift';
import { InventoryStore } from '../../shared/inventory/store';
import { INSTANCE_STATUSES } from '../../shared/instances/status';
import type { JobPayload } from '../../shared/jobs/queue';
import { withTimeout } from '../../shared/retry';
import { exposition } from '../../shared/metrics/exposition';
import { requestDurationHistogram, requestMetrics } from './http';

/** BullMQ's job states, as Queue.getJobCounts names them. */
export const QUEUE_STATES = [
  'waiting',
  'active',
  'delayed',
  'failed',
  'completed',
  'prioritized',
  'waiting-children',
] as const;

/** How long a scrape waits for Redis: a scrape that hangs is worse than one without the queue. */
export const QUEUE_SCRAPE_TIMEOUT_MS = 1000;

/** BullMQ's stand-in entry where Redis refuses CLIENT LIST (Google Memorystore). */
const NO_CLIENT_LIST = 'GCP does not support client list';

export interface ApiMetricsDeps {
  dataSource: DataSource;
  /** The operations queue: its depth and the workers attached to it are read at each scrape. */
  queue: Queue<JobPayload>;
}

/**
 * The API process's metrics: its HTTP requests (counted as they are answered) and the
 * deployment's state, computed at each scrape from the admin database (so every replica answers
 * the same) and from Redis (bounded; a Redis that does not answer sets odsim_queue_up 0).
 */
export class ApiMetrics {
  readonly registry = new Registry();
  private readonly requests = requestDurationHistogram(this.registry);
  private readonly store: InventoryStore;
  private readonly instances = new Gauge({
    name: 'odsim_instances',
    help: 'Instances by status (Deleted included).',
    labelNames: ['status'] as const,
    registers: [this.registry],
  });
  private readonly drift = new Gauge({
    name: 'odsim_instances_drift',
    help: 'Instances whose database was dropped, renamed or re-marked outside the manager, by kind (docs/inventory.md).',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  private readonly inventoryAge = new Gauge({
    name: 'odsim_inventory_age_seconds',
    help: 'Seconds since the last successful inventory run finished; -1 before the first.',
    registers: [this.registry],
  });
  private readonly unknownDatabases = new Gauge({
    name: 'odsim_inventory_unknown_databases',
    help: "Databases carrying this manager's marker for no live instance.",
    registers: [this.registry],
  });
  private readonly queueUp = new Gauge({
    name: 'odsim_queue_up',
    help: 'Whether Redis answered this scrape (1) or not within its time (0; the queue depth and workers are then left out).',
    registers: [this.registry],
  });
  private readonly queueJobs = new Gauge({
    name: 'odsim_queue_jobs',
    help: 'BullMQ jobs of the operations queue by state (Queue.getJobCounts).',
    labelNames: ['queue', 'state'] as const,
    registers: [this.registry],
  });
  private readonly workers = new Gauge({
    name: 'odsim_workers',
    help: "Workers attached to the operations queue (BullMQ's Queue.getWorkers: Redis CLIENT LIST); absent when Redis refuses CLIENT LIST or does not answer.",
    labelNames: ['queue'] as const,
    registers: [this.registry],
  });

  constructor(private readonly deps: ApiMetricsDeps) {
    this.store = new InventoryStore(deps.dataSource);
  }

  /** Express middleware that counts and times every request (mounted first in createApp). */
  readonly http = () => requestMetrics(this.requests);

  /** Refreshes the scrape-time gauges and answers the text Prometheus reads. */
  async scrape(): Promise<{ contentType: string; body: string }> {
    await Promise.all([this.collectAdmin(), this.collectQueue()]);
    return exposition(this.registry);
  }

  private async collectAdmin(): Promise<void> {
    const byStatus = await this.deps.dataSource
      .getRepository(InstanceEntity)
      .createQueryBuilder('i')
      .select('i.status', 'status')
      .addSelect('COUNT(*)', 'n')
      .groupBy('i.status')
      .getRawMany<{ status: string; n: string | number }>();
    const counts = new Map(byStatus.map((r) => [r.status, Number(r.n)]));
    for (const status of INSTANCE_STATUSES) this.instances.set({ status }, counts.get(status) ?? 0);
    const [driftCounts, run, unknownDatabases] = await Promise.all([
      this.store.driftCounts(),
      this.store.factsRun(),
      this.store.unknownDatabases(),
    ]);
    for (const kind of DRIFT_KINDS) this.drift.set({ kind }, driftCounts[kind]);
    this.inventoryAge.set(run?.finishedAt ? ageSeconds(run.finishedAt, new Date()) : -1);
    this.unknownDatabases.set(unknownDatabases.length);
  }

  private async collectQueue(): Promise<void> {
    const { queue } = this.deps;
    const bounded = <T>(read: Promise<T>) => withTimeout(read, QUEUE_SCRAPE_TIMEOUT_MS, 'Redis did not answer in time');
    // Apart: a Redis that answers but refuses CLIENT LIST (an ACL without it) still gives the depth.
    const [counts, workers] = await Promise.allSettled([
      bounded(queue.getJobCounts(...QUEUE_STATES)),
      bounded(queue.getWorkers()),
    ]);
    // Stale numbers would read as true: what Redis did not give is left out until it does (a label-less
    // gauge would show 0 after a reset, hence the queue label).
    this.queueJobs.reset();
    this.workers.reset();
    this.queueUp.set(counts.status === 'fulfilled' ? 1 : 0);
    if (counts.status === 'fulfilled')
      for (const state of QUEUE_STATES) this.queueJobs.set({ queue: 'operations', state }, counts.value[state] ?? 0);
    if (workers.status === 'fulfilled' && !workers.value.some((w) => w.name === NO_CLIENT_LIST))
      this.workers.set({ queue: 'operations' }, workers.value.length);
  }
}
