import type { Queue } from 'bullmq';
import { DataSource, Equal, In, IsNull, MoreThan, Not } from 'typeorm';
import { JobEntity } from '../shared/database/entities';
import { UNFINISHED_JOB_STATUSES } from '../shared/instances/status';
import { addJobs, JobPayload } from '../shared/jobs/queue';
import type { Logger } from '../shared/logger';
import type { RedisClient } from '../shared/redis';
import { errorMessage } from '../shared/errors';

export interface ReconcileReport {
  unfinished: number;
  enqueued: number;
  /** Copy sources found shut by a job that has ended, and opened again. */
  reopened: number;
}

/** Rows read, and jobs looked up in Redis, per round trip. */
const PAGE = 1000;
/** Copy sources left shut, looked at per pass. */
const BATCH = 1000;

interface Cursor {
  createdAt: Date;
  id: string;
}

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
    let unfinished = 0;
    let enqueued = 0;
    // Every unfinished row, a page at a time (keyset on created_at, id): a pass never stops at
    // the oldest page, whose jobs may all be waiting, while a newer row has lost its job.
    for (let after: Cursor | undefined; ;) {
      const rows = await this.unfinishedPage(after);
      unfinished += rows.length;
      enqueued += await this.reconcilePage(rows);
      const last = rows[rows.length - 1];
      if (rows.length < PAGE || !last) break;
      // Rows created within one millisecond share a key to the millisecond: never loop on them.
      if (after && last.createdAt.getTime() === after.createdAt.getTime() && last.id === after.id) break;
      after = { createdAt: last.createdAt, id: last.id };
    }
    return { unfinished, enqueued, reopened: await this.reopenLeftClosedSources() };
  }

  /** Unfinished rows after `after`, oldest first; only the columns a re-enqueue needs. */
  private unfinishedPage(after?: Cursor): Promise<JobEntity[]> {
    const unfinished = In([...UNFINISHED_JOB_STATUSES]);
    return this.dataSource.getRepository(JobEntity).find({
      select: { id: true, type: true, status: true, instanceId: true, requestId: true, createdAt: true },
      where: after
        ? [
            { status: unfinished, createdAt: MoreThan(after.createdAt) },
            { status: unfinished, createdAt: Equal(after.createdAt), id: MoreThan(after.id) },
          ]
        : { status: unfinished },
      order: { createdAt: 'ASC', id: 'ASC' },
      take: PAGE,
    });
  }

  /**
   * One round trip asks Redis about every row of the page: does the job's hash exist, and is it
   * in the completed or failed set. Missing or finished ones are added again in one more (BullMQ's
   * addBulk); a finished one is removed first, as a re-add under its id would do nothing.
   * On a cluster the keys share the prefix's hash tag, so one pipeline reaches one node.
   */
  private async reconcilePage(rows: readonly JobEntity[]): Promise<number> {
    if (!rows.length) return 0;
    // BullMQ's own connection (an ioredis client or cluster, shared/redis.ts), typed loosely by BullMQ.
    const client = (await this.queue.client) as unknown as RedisClient;
    const pipeline = client.pipeline();
    for (const row of rows) {
      pipeline.exists(this.queue.toKey(row.id));
      pipeline.zscore(this.queue.keys.completed!, row.id);
      pipeline.zscore(this.queue.keys.failed!, row.id);
    }
    const replies = (await pipeline.exec()) ?? [];
    const reply = (i: number): unknown => {
      const [err, value] = replies[i] ?? [new Error('no reply from Redis')];
      if (err) throw err;
      return value;
    };
    const lost: { row: JobEntity; bullState: string }[] = [];
    for (const [i, row] of rows.entries()) {
      const exists = reply(3 * i) === 1;
      const bullState = !exists
        ? 'unknown'
        : reply(3 * i + 1) !== null
          ? 'completed'
          : reply(3 * i + 2) !== null
            ? 'failed'
            : null;
      if (bullState) lost.push({ row, bullState });
    }
    if (!lost.length) return 0;
    for (const { row, bullState } of lost)
      if (bullState !== 'unknown') await this.queue.remove(row.id).catch(() => undefined);
    await addJobs(
      this.queue,
      lost.map(({ row }) => ({ id: row.id, type: row.type, instanceId: row.instanceId, requestId: row.requestId })),
    );
    for (const { row, bullState } of lost) {
      this.onReenqueued();
      this.log.info('re-enqueued an unfinished job', {
        event: 'reconciler.enqueued',
        jobId: row.id,
        requestId: row.requestId,
        bullState,
        status: row.status,
      });
    }
    return lost.length;
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
