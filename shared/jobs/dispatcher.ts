import type { Queue } from 'bullmq';
import type { Logger } from '../logger';
import { withTimeout } from '../retry';
import { addJob, JobPayload, QueueJobRef } from './queue';
import { errorMessage } from '../errors';

/**
 * Hands committed jobs to BullMQ without ever holding up the caller: if Redis is slow or
 * down the row stays `queued` in the admin database and a worker's reconciler enqueues it.
 */
export class JobDispatcher {
  constructor(
    private readonly queue: Queue<JobPayload>,
    private readonly timeoutMs: number,
    private readonly log: Logger,
  ) {}

  async dispatch(job: QueueJobRef): Promise<void> {
    try {
      await withTimeout(addJob(this.queue, job), this.timeoutMs, `enqueue timed out after ${this.timeoutMs} ms`);
    } catch (err) {
      this.log.warn('job not enqueued; the reconciler will enqueue it', {
        event: 'job.enqueue_failed',
        jobId: job.id,
        requestId: job.requestId,
        error: errorMessage(err),
      });
    }
  }
}
