import { DelayedError, Job } from 'bullmq';
import { DataSource, EntityManager, In } from 'typeorm';
import { recordAudit } from '../../shared/audit';
import { isAdminDatabaseUnavailable } from '../../shared/database/data-source';
import { DatabaseNameClaimEntity, InstanceEntity, JobEntity } from '../../shared/database/entities';
import { nameKey } from '../../shared/database-names';
import { phasesOf, startableFrom, UNFINISHED_JOB_STATUSES } from '../../shared/instances/status';
import type { JobPayload } from '../../shared/jobs/queue';
import { Logger, redactSecrets } from '../../shared/logger';
import { retryTransient, RetryPolicy } from '../../shared/retry';
import type { EngineDriver, OperationResult, Outcome } from '../engines/engine';
import { createHandlers, JobHandler } from './handlers';
import type { JobLocks } from './job-locks';

export interface ProcessorDeps {
  dataSource: DataSource;
  /** Instance lock and concurrency slot, on sessions apart from the data source's pool. */
  locks: JobLocks;
  driver: EngineDriver;
  templateDatabase: string;
  workerId: string;
  log: Logger;
  /** Backoff for transient database-server errors, inside one run of the job. */
  transientRetry: RetryPolicy;
  /** Backoff for writes to the admin database (its outage must not lose an outcome). */
  adminRetry?: RetryPolicy;
}

/** Asked BullMQ to try again later: the instance is busy with another worker. */
export class InstanceBusyError extends Error {}

/** How long a job waits for a free concurrency slot before it is offered again (jittered, so waiters spread out). */
export function slotWaitDelay(): number {
  return 500 + Math.round(Math.random() * 1000);
}

/**
 * Runs one delivered job: claim the row (a stale or duplicate delivery changes nothing),
 * move the instance to *InProgress, run the engine operation with retries, record the end
 * state. Writes to the admin database are retried; if they still fail the BullMQ job fails
 * and is retried, and the idempotent driver makes the second run cheap and safe.
 */
export class JobProcessor {
  private readonly handlers: Record<string, JobHandler>;
  private readonly adminRetry: RetryPolicy;

  constructor(private readonly deps: ProcessorDeps) {
    this.adminRetry = deps.adminRetry ?? { attempts: 8, baseDelayMs: 250, maxDelayMs: 5000 };
    this.handlers = createHandlers({
      driver: deps.driver,
      templateDatabase: deps.templateDatabase,
      createJobIdsOf: (instanceId) =>
        this.admin(async () => {
          const rows = await deps.dataSource
            .getRepository(JobEntity)
            .find({ where: { instanceId, type: 'create' }, select: { id: true } });
          return rows.map((r) => r.id);
        }),
    });
  }

  /** `token` is BullMQ's lock token for the delivery, needed to put it back when no slot is free. */
  async process(delivery: Job<JobPayload>, token?: string): Promise<Outcome | 'skipped'> {
    const jobId = delivery.data.jobId;
    const log = this.deps.log.child({
      jobId,
      requestId: delivery.data.requestId ?? undefined,
      instanceId: delivery.data.instanceId,
    });
    const row = await this.admin(() => this.deps.dataSource.getRepository(JobEntity).findOneBy({ id: jobId }));
    if (!row) {
      // The queue is this deployment's own, so a delivery without a row means someone added
      // jobs by hand or restored an older admin database: say so, and leave the delivery be.
      log.error("no job row for this delivery in this deployment's admin database; ignored", {
        event: 'job.orphan_delivery',
      });
      return 'skipped';
    }
    if (!UNFINISHED_JOB_STATUSES.includes(row.status)) {
      log.info('job already finished; duplicate delivery ignored', {
        event: 'job.duplicate_delivery',
        status: row.status,
      });
      return 'skipped';
    }
    const lock = await this.admin(() => this.deps.locks.tryAcquire(row.instanceId));
    if (lock === 'instance-busy') {
      log.info('instance is busy with another worker; will retry', { event: 'job.instance_busy' });
      throw new InstanceBusyError(`instance ${row.instanceId} is locked by another worker`);
    }
    if (lock === 'no-slot') {
      // Every slot is taken (BullMQ's own limit was lost with Redis's data, or a worker's
      // setting differs): wait outside the worker, without spending one of the job's attempts.
      const delayMs = slotWaitDelay();
      log.info('no concurrency slot free; job put back', { event: 'job.slot_wait', delayMs });
      await delivery.moveToDelayed(Date.now() + delayMs, token);
      throw new DelayedError();
    }
    try {
      const job = await this.admin(() => this.claim(row));
      if (!job) {
        log.info('job was finished meanwhile; duplicate delivery ignored', { event: 'job.duplicate_delivery' });
        return 'skipped';
      }
      log.info('job started', {
        event: 'job.started',
        type: job.type,
        attempt: job.attempts,
        workerId: this.deps.workerId,
        slot: lock.slot,
      });
      let result: OperationResult;
      try {
        result = await retryTransient(() => this.handlers[job.type](job), {
          ...this.deps.transientRetry,
          isTransient: (err) => this.deps.driver.isTransient(err),
          onRetry: (err, attempt, delayMs) =>
            log.warn('transient error; retrying', {
              event: 'job.retrying',
              attempt,
              delayMs,
              error: redactSecrets(errorText(err)),
              code: (err as { code?: string }).code,
            }),
        });
      } catch (err) {
        const reason = redactSecrets(errorText(err));
        await this.admin(() => this.finish(job, 'failed', reason));
        log.warn('job failed', { event: 'job.failed', type: job.type, error: reason });
        return 'skipped';
      }
      const { outcome, warnings } = result;
      await this.admin(() => this.finish(job, 'succeeded', null, result));
      if (warnings.length)
        log.warn('job succeeded with warnings', { event: 'job.warning', type: job.type, outcome, warnings });
      log.info('job succeeded', { event: 'job.succeeded', type: job.type, outcome });
      return outcome;
    } finally {
      await lock.release().catch(() => undefined);
    }
  }

  /** queued|running → running, counting the attempt. Returns null if the row is already finished. */
  private async claim(row: JobEntity): Promise<JobEntity | null> {
    return this.deps.dataSource.transaction(async (m) => {
      const now = new Date();
      const result = await m
        .createQueryBuilder()
        .update(JobEntity)
        .set({
          status: 'running',
          attempts: () => 'attempts + 1',
          startedAt: row.startedAt ?? now,
          updatedAt: now,
          workerId: this.deps.workerId,
        })
        .where({ id: row.id, status: In([...UNFINISHED_JOB_STATUSES]) })
        .execute();
      if (!result.affected) return null;
      await m.update(
        InstanceEntity,
        { id: row.instanceId, status: In(startableFrom(row.type)) },
        { status: phasesOf(row.type).inProgress, updatedAt: now },
      );
      return m.findOneByOrFail(JobEntity, { id: row.id });
    });
  }

  /** Records the end state of the job and its instance, and frees or keeps database names, in one transaction. */
  private async finish(
    job: JobEntity,
    status: 'succeeded' | 'failed',
    error: string | null,
    result?: OperationResult,
  ): Promise<void> {
    const outcome = result?.outcome;
    const warnings = result?.warnings ?? [];
    await this.deps.dataSource.transaction(async (m) => {
      const now = new Date();
      const updated = await m.update(
        JobEntity,
        { id: job.id, status: 'running' },
        { status, error, warnings, finishedAt: now, updatedAt: now },
      );
      if (!updated.affected) return;
      const phases = phasesOf(job.type);
      const instanceChanges: Partial<InstanceEntity> = {
        status: status === 'succeeded' ? phases.succeeded : phases.failed,
        lastError: error,
        updatedAt: now,
      };
      if (status === 'succeeded' && job.type === 'rename') {
        instanceChanges.databaseName = job.targetDatabaseName!;
        instanceChanges.previousDatabaseName = job.sourceDatabaseName;
      }
      if (status === 'succeeded' && job.type === 'delete') instanceChanges.deletedAt = now;
      await m.update(InstanceEntity, { id: job.instanceId, status: In(startableFrom(job.type)) }, instanceChanges);
      await this.releaseNames(m, job, status);
      await recordAudit(m, {
        actor: `worker:${this.deps.workerId}`,
        action: `instance.${job.type}`,
        outcome: status,
        instanceId: job.instanceId,
        jobId: job.id,
        requestId: job.requestId,
        details: { outcome, error, attempts: job.attempts, ...(warnings.length ? { warnings } : {}) },
      });
    });
  }

  /** A finished rename frees the name it no longer uses; a finished delete frees its name. */
  private async releaseNames(m: EntityManager, job: JobEntity, status: 'succeeded' | 'failed'): Promise<void> {
    const free = (name: string | null) =>
      name ? m.delete(DatabaseNameClaimEntity, { nameKey: nameKey(name), instanceId: job.instanceId }) : undefined;
    if (job.type === 'delete' && status === 'succeeded')
      await m.delete(DatabaseNameClaimEntity, { instanceId: job.instanceId });
    if (
      job.type === 'rename' &&
      job.sourceDatabaseName &&
      job.targetDatabaseName &&
      nameKey(job.sourceDatabaseName) !== nameKey(job.targetDatabaseName)
    ) {
      await free(status === 'succeeded' ? job.sourceDatabaseName : job.targetDatabaseName);
    }
  }

  private admin<T>(op: () => Promise<T>): Promise<T> {
    return retryTransient(op, {
      ...this.adminRetry,
      isTransient: isAdminDatabaseUnavailable,
      onRetry: (err, attempt, delayMs) =>
        this.deps.log.warn('admin database unavailable; retrying', {
          event: 'admin_db.retrying',
          attempt,
          delayMs,
          error: errorText(err),
        }),
    });
  }
}

function errorText(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).slice(0, 1900);
}
