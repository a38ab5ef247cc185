import type { Queue } from 'bullmq';
import { DataSource, In } from 'typeorm';
import { JobEntity } from '../shared/database/entities';
import { UNFINISHED_JOB_STATUSES } from '../shared/instances/status';
import { addJob, JobPayload } from '../shared/jobs/queue';
import type { Logger } from '../shared/logger';
import { errorMessage } from '../shared/errors';

export interface ReconcileReport {
  unfinished: number;
  enqueued: number;
}

const BATCH = 1000;

/**
 * Redis is only the delivery mechanism; the job rows are the truth. Every unfinished row
 * must have a live BullMQ job (waiting, delayed, active...). Where it has none (the enqueue
 * failed after commit, Redis was flushed or restarted, someone removed it) or only a finished
 * one (a re-add under the same id would silently do nothing), the job is enqueued again.
 * Safe in any number of workers at once: adds under the row's id are idempotent.
 */
export class Reconciler {
  private timer?: NodeJS.Timeout;
  private running?: Promise<unknown>;

  constructor(
    private readonly dataSource: DataSource,
    private readonly queue: Queue<JobPayload>,
    private readonly log: Logger,
    private readonly intervalMs: number,
    /** Puts back queue settings that live in Redis (the global concurrency), lost if Redis lost its data. */
    private readonly restoreQueueSettings: () => Promise<unknown> = () => Promise.resolve(),
  ) {}

  async runOnce(): Promise<ReconcileReport> {
    await this.restoreQueueSettings();
    const rows = await this.dataSource.getRepository(JobEntity).find({
      where: { status: In([...UNFINISHED_JOB_STATUSES]) },
      order: { createdAt: 'ASC' },
      take: BATCH,
    });
    let enqueued = 0;
    for (const row of rows) {
      const state = await this.queue.getJobState(row.id);
      if (state === 'completed' || state === 'failed') {
        await (await this.queue.getJob(row.id))?.remove().catch(() => undefined);
      } else if (state !== 'unknown') {
        continue;
      }
      await addJob(this.queue, { id: row.id, type: row.type, instanceId: row.instanceId, requestId: row.requestId });
      enqueued++;
      this.log.info('re-enqueued an unfinished job', {
        event: 'reconciler.enqueued',
        jobId: row.id,
        requestId: row.requestId,
        bullState: state,
        status: row.status,
      });
    }
    return { unfinished: rows.length, enqueued };
  }

  start(): void {
    const tick = () => {
      this.running = this.runOnce()
        .catch((err) =>
          this.log.warn('reconcile pass failed; will try again', {
            event: 'reconciler.failed',
            error: errorMessage(err),
          }),
        )
        .finally(() => {
          if (this.timer) this.timer = setTimeout(tick, this.intervalMs);
        });
    };
    this.timer = setTimeout(tick, 0);
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
