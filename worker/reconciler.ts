import type { Queue } from 'bullmq';
import { DataSource, In, IsNull, Not } from 'typeorm';
import { JobEntity } from '../shared/database/entities';
import { UNFINISHED_JOB_STATUSES } from '../shared/instances/status';
import { addJob, JobPayload } from '../shared/jobs/queue';
import type { Logger } from '../shared/logger';
import { errorMessage } from '../shared/errors';

export interface ReconcileReport {
  unfinished: number;
  enqueued: number;
  /** Copy sources found shut by a job that has ended, and opened again. */
  reopened: number;
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
    /** The engine's way to let connections into a copy source again (absent: the engine never shuts one). */
    private readonly reopenCopySource?: (databaseName: string) => Promise<void>,
    /** Told of each job put back on the queue (the worker's metrics count them). */
    private readonly onReenqueued: () => void = () => undefined,
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
      this.onReenqueued();
      this.log.info('re-enqueued an unfinished job', {
        event: 'reconciler.enqueued',
        jobId: row.id,
        requestId: row.requestId,
        bullState: state,
        status: row.status,
      });
    }
    return { unfinished: rows.length, enqueued, reopened: await this.reopenLeftClosedSources() };
  }

  /**
   * A copy job notes on its row that it shut its source before it does, and clears the note once
   * the source is open again. An unfinished job reopens its own source when it runs again; a note
   * left on a job that has ended (the reopen failed and the job failed for good, or its worker
   * died in between) is this pass's to clear. Only sources a copy shut are opened: never one an
   * administrator shut, nor one a rename shut (the API refuses to rename a source while a note stands).
   */
  private async reopenLeftClosedSources(): Promise<number> {
    if (!this.reopenCopySource) return 0;
    const repo = this.dataSource.getRepository(JobEntity);
    const left = await repo.find({
      where: { sourceClosedAt: Not(IsNull()), status: Not(In([...UNFINISHED_JOB_STATUSES])) },
      take: BATCH,
    });
    let reopened = 0;
    for (const job of left) {
      try {
        if (job.sourceDatabaseName) await this.reopenCopySource(job.sourceDatabaseName);
        await repo.update({ id: job.id, sourceClosedAt: Not(IsNull()) }, { sourceClosedAt: null });
        reopened++;
        this.log.warn('reopened a copy source that an ended job left shut', {
          event: 'reconciler.copy_source_reopened',
          jobId: job.id,
          database: job.sourceDatabaseName,
        });
      } catch (err) {
        this.log.warn('could not reopen a copy source; will try again', {
          event: 'reconciler.copy_source_reopen_failed',
          jobId: job.id,
          error: errorMessage(err),
        });
      }
    }
    return reopened;
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
