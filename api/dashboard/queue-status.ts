import type { JobType, Queue } from 'bullmq';
import { ServiceUnavailableError } from '../../shared/errors';
import { withTimeout } from '../../shared/retry';

/** BullMQ's lists and sets, in the order the status shows them. */
const COUNTED: JobType[] = [
  'waiting',
  'active',
  'delayed',
  'failed',
  'completed',
  'paused',
  'prioritized',
  'waiting-children',
];
const TIMEOUT_MS = 2000;

export interface QueueStatus {
  paused: boolean;
  /** Workers connected to the queue; null when Redis refuses CLIENT LIST (some managed Redis do). */
  workers: number | null;
  counts: Record<string, number>;
  /** Sentences for a person: what stops operations from running now, and how to fix it. */
  warnings: string[];
}

export const PAUSED_WARNING =
  'The queue is paused: no operation will start until it is resumed (Queue dashboard → Resume).';
export const NO_WORKER_WARNING = 'No worker is running: operations will wait until one starts (npm run start:worker).';

/** What the queue is doing, read from Redis; Redis down or silent is a 503, as for any dependency. */
export async function queueStatus(queue: Queue): Promise<QueueStatus> {
  let paused: boolean;
  let counts: Record<string, number>;
  let workers: number | null;
  try {
    [paused, counts, workers] = await withTimeout(
      Promise.all([queue.isPaused(), queue.getJobCounts(...COUNTED), queue.getWorkersCount().catch(() => null)]),
      TIMEOUT_MS,
      'Redis did not answer in time',
    );
  } catch {
    throw new ServiceUnavailableError('The queue (Redis) is unreachable; try again shortly.', 5);
  }
  const warnings: string[] = [];
  if (paused) warnings.push(PAUSED_WARNING);
  if (workers === 0) warnings.push(NO_WORKER_WARNING);
  return { paused, workers, counts, warnings };
}
