import { Worker } from 'bullmq';
import type { RedisClient } from '../../shared/redis';
import type { DataSource } from 'typeorm';
import { errorMessage } from '../../shared/errors';
import {
  createInventoryQueue,
  type InventoryQueue,
  inventoryQueueName,
  scheduleInventory,
} from '../../shared/inventory/queue';
import { InventoryStore } from '../../shared/inventory/store';
import type { Logger } from '../../shared/logger';
import type { ServerSurvey } from '../engines/engine';

export interface InventoryWorkerDeps {
  dataSource: DataSource;
  redis: RedisClient;
  prefix: string;
  deploymentId: string;
  workerId: string;
  /** INVENTORY_INTERVAL_MS; 0: on demand only. */
  intervalMs: number;
  survey: ServerSurvey['survey'];
  log: Logger;
  /** Told of each run's end (the worker's metrics count them). */
  onRun?: (outcome: 'succeeded' | 'failed') => void;
}

/** Takes one inventory: records the run, surveys the server, replaces the stored facts. Never changes a database. */
export async function takeInventory(
  store: InventoryStore,
  survey: ServerSurvey['survey'],
  workerId: string,
  log: Logger,
): Promise<void> {
  const run = await store.startRun(workerId);
  try {
    const databases = await survey();
    await store.finishRun(run, databases);
    log.info('inventory taken', {
      event: 'inventory.taken',
      runId: run.id,
      databases: databases.length,
      ms: Date.now() - run.startedAt.getTime(),
    });
  } catch (err) {
    log.warn('inventory failed', { event: 'inventory.failed', runId: run.id, error: errorMessage(err) });
    await store.failRun(run, errorMessage(err)).catch(() => undefined);
    throw err;
  }
}

/**
 * The worker's inventory: its own queue and BullMQ worker (concurrency 1), so instance jobs
 * never wait behind a survey; the job scheduler makes one run per interval across all workers.
 */
export class InventoryWorker {
  private constructor(
    private readonly queue: InventoryQueue,
    private readonly worker: Worker,
  ) {}

  static async start(deps: InventoryWorkerDeps): Promise<InventoryWorker> {
    const log = deps.log;
    const store = new InventoryStore(deps.dataSource);
    const queue = createInventoryQueue(deps.redis, deps.prefix, deps.deploymentId);
    queue.on('error', (err) =>
      log.warn('inventory queue error', { event: 'inventory.queue_error', error: err.message }),
    );
    await scheduleInventory(queue, deps.intervalMs);
    const worker = new Worker(
      inventoryQueueName(deps.deploymentId),
      () =>
        takeInventory(store, deps.survey, deps.workerId, log).then(
          () => deps.onRun?.('succeeded'),
          (err: unknown) => {
            deps.onRun?.('failed');
            throw err;
          },
        ),
      {
        connection: deps.redis,
        prefix: deps.prefix,
        concurrency: 1,
      },
    );
    worker.on('error', (err) =>
      log.warn('inventory worker error', { event: 'inventory.worker_error', error: err.message }),
    );
    log.info('inventory scheduled', { event: 'inventory.scheduled', intervalMs: deps.intervalMs });
    return new InventoryWorker(queue, worker);
  }

  async stop(): Promise<void> {
    await this.worker.close();
    await this.queue.close();
  }
}
