import { Queue } from 'bullmq';
import type { RedisClient } from '../redis';

/**
 * Inventory runs travel on a queue of their own, beside the instance operations: a worker
 * takes them one at a time (concurrency 1) in a BullMQ worker of their own, so an inventory
 * never holds a slot an instance job needs, and with many workers each run is taken by one.
 */
export function inventoryQueueName(deploymentId: string): string {
  return `inventory-${deploymentId}`;
}

export type InventoryQueue = Queue<Record<string, never>>;

export function createInventoryQueue(connection: RedisClient, prefix: string, deploymentId: string): InventoryQueue {
  return new Queue(inventoryQueueName(deploymentId), { connection, prefix });
}

/** The job scheduler every worker upserts: one id, so many workers keep one schedule. */
export const INVENTORY_SCHEDULER_ID = 'inventory-interval';
/** An on-demand run's job id: asking again while one waits or runs adds nothing. */
export const ON_DEMAND_JOB_ID = 'inventory-on-demand';
export const INVENTORY_JOB_NAME = 'inventory';

const KEEP = { removeOnComplete: { count: 20 }, removeOnFail: { count: 20 } } as const;

/** Every worker calls this at start: the interval's schedule, or none when the interval is 0. */
export async function scheduleInventory(queue: InventoryQueue, intervalMs: number): Promise<void> {
  if (intervalMs <= 0) {
    await queue.removeJobScheduler(INVENTORY_SCHEDULER_ID);
    return;
  }
  await queue.upsertJobScheduler(
    INVENTORY_SCHEDULER_ID,
    { every: intervalMs },
    { name: INVENTORY_JOB_NAME, data: {}, opts: KEEP },
  );
}

/** Asks for a run now; true when a new run was queued, false when one was already waiting or running. */
export async function requestInventory(queue: InventoryQueue): Promise<boolean> {
  const existing = await queue.getJob(ON_DEMAND_JOB_ID);
  if (existing) {
    const state = await existing.getState();
    if (state === 'waiting' || state === 'active' || state === 'delayed' || state === 'prioritized') return false;
    // A finished one still kept under the id: make room for the new request.
    await existing.remove().catch(() => undefined);
  }
  await queue.add(INVENTORY_JOB_NAME, {}, { jobId: ON_DEMAND_JOB_ID, removeOnComplete: true, removeOnFail: true });
  return true;
}
