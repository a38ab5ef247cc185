import { DelayedError, Job } from 'bullmq';
import { DataSource } from 'typeorm';
import { errorCode } from '../../shared/database/postgres-errors';
import { dialectOf } from '../../shared/database/dialects';
import { errorMessage } from '../../shared/errors';
import { InstanceEntity, JobEntity } from '../../shared/database/entities';
import { type Operation, UNFINISHED_JOB_STATUSES } from '../../shared/instances/status';
import type { JobPayload } from '../../shared/jobs/queue';
import { Logger, redactSecrets } from '../../shared/logger';
import { retryTransient, RetryPolicy } from '../../shared/retry';
import { inSpan } from '../../shared/tracing/spans';
import type { EngineDriver, Outcome } from '../engines/engine';
import { isTemplateDatabase, type Templates } from '../../shared/templates';
import { Registrations } from '../edfi-admin/registry';
import { JobClaim } from './claim';
import { finishPlan, JobFinish } from './finish';
import { createHandlers, JobHandler, JobResult } from './handlers';
import { type ProgressReporter, withProgressReporter } from './progress';
import type { JobLocks } from './job-locks';
import { withStepObserver } from './steps';
import { WorkerMetrics } from '../metrics/worker-metrics';

export interface ProcessorDeps {
  dataSource: DataSource;
  /** Instance lock and concurrency slot, on sessions apart from the data source's pool. */
  locks: JobLocks;
  driver: EngineDriver;
  templateDatabase: string;
  /** ODS_TEMPLATES: their databases are never an operation's target. */
  templates?: Templates;
  /** Names an adopt never takes besides the system and template databases (RESERVED_DATABASE_NAMES, the admin database). */
  reservedNames?: string[];
  workerId: string;
  log: Logger;
  /** Backoff for transient database-server errors, inside one run of the job. */
  transientRetry: RetryPolicy;
  /** Backoff for writes to the admin database (its outage must not lose an outcome). */
  adminRetry?: RetryPolicy;
  /** EdFi_Admin registration per tenant; off when absent. */
  registrations?: Registrations;
  /** Where job outcomes, durations and errors are counted (METRICS_PORT); a private one when absent. */
  metrics?: WorkerMetrics;
}

/** Asked BullMQ to try again later: the instance is busy with another worker. */
export class InstanceBusyError extends Error {}

/** The worker is stopping while the job waited to retry: BullMQ gives the job to another worker. */
export class WorkerStoppingError extends Error {}

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
  private readonly stopping = new AbortController();
  private readonly handlers: Record<Operation, JobHandler>;
  private readonly adminRetry: RetryPolicy;

  private readonly registrations: Registrations;
  private readonly metrics: WorkerMetrics;
  private readonly claims: JobClaim;
  private readonly finishes: JobFinish;

  constructor(private readonly deps: ProcessorDeps) {
    this.claims = new JobClaim(deps.dataSource, deps.workerId);
    this.finishes = new JobFinish(deps.dataSource);
    this.metrics = deps.metrics ?? new WorkerMetrics(deps.driver.engine);
    this.adminRetry = deps.adminRetry ?? { attempts: 8, baseDelayMs: 250, maxDelayMs: 5000 };
    this.registrations = deps.registrations ?? Registrations.none();
    this.handlers = createHandlers({
      registrations: this.registrations,
      instanceOf: (instanceId) =>
        this.admin(() => deps.dataSource.getRepository(InstanceEntity).findOneByOrFail({ id: instanceId })),
      driver: deps.driver,
      templateDatabase: deps.templateDatabase,
      isTemplateDatabase: (name) => (deps.templates ? isTemplateDatabase(deps.templates, name) : false),
      noteSourceClosed: (jobId, at) =>
        this.admin(async () => {
          await deps.dataSource.getRepository(JobEntity).update({ id: jobId }, { sourceClosedAt: at });
        }),
      reservedNames: deps.reservedNames,
      createJobIdsOf: (instanceId) =>
        this.admin(async () => {
          const rows = await deps.dataSource
            .getRepository(JobEntity)
            // Oldest first, as a dry run's plan lists their staging looks (api/instances/service.ts).
            .find({ where: { instanceId, type: 'create' }, select: { id: true }, order: { createdAt: 'ASC' } });
          return rows.map((r) => r.id);
        }),
    });
  }

  /**
   * Stops the waits between retries of transient errors: a stopping worker hands such jobs
   * back at once rather than holding its shutdown for minutes. Work under way is not cut.
   */
  stopWaiting(): void {
    this.stopping.abort();
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
      log.debug('no concurrency slot free; job put back', { event: 'job.slot_wait', delayMs });
      await delivery.moveToDelayed(Date.now() + delayMs, token);
      throw new DelayedError();
    }
    try {
      const job = await inSpan('claim job', { 'odsim.job.id': row.id }, () => this.admin(() => this.claims.claim(row)));
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
      let result: JobResult;
      // Neither calls a PermanentJobError transient (a database not ours, an unknown client
      // key, links blocking a delete): the job fails at once with its reason, never retried.
      const isTransient = (err: unknown) => this.deps.driver.isTransient(err) || this.registrations.isTransient(err);
      const run = this.metrics.jobRun(job.type, isTransient);
      try {
        const toJob: ProgressReporter = (percent, message) => {
          // Seen on the queue dashboard; a report lost with Redis costs nothing the job needs.
          delivery.updateProgress({ percent, message }).catch(() => undefined);
          log.info('progress', { event: 'job.progress', percent, message });
        };
        // One span per try, the engine's statements its children (docs/tracing.md).
        const tryOnce = () =>
          inSpan(`${job.type} instance`, spanAttributes(job), () =>
            withStepObserver(run.step, () => withProgressReporter(toJob, () => this.handlers[job.type](job))),
          ).catch((err: unknown) => {
            run.error(err);
            throw err;
          });
        result = await retryTransient(tryOnce, {
          ...this.deps.transientRetry,
          signal: this.stopping.signal,
          isTransient,
          onRetry: (err, attempt, delayMs) => {
            run.retried();
            log.warn('transient error; retrying', {
              event: 'job.retrying',
              attempt,
              delayMs,
              error: redactSecrets(errorText(err)),
              code: errorCode(err),
            });
          },
        });
      } catch (err) {
        if (this.stopping.signal.aborted) {
          // Not a failure of the job: its row stays running, and the next worker to take the
          // delivery claims it again (the driver's idempotence makes the second run safe).
          log.info('worker stopping; job handed back to the queue', { event: 'job.handed_back', type: job.type });
          throw new WorkerStoppingError(`worker stopped while job ${job.id} waited to retry`);
        }
        const reason = redactSecrets(errorText(err));
        await inSpan('record outcome', spanAttributes(job), () =>
          this.admin(() => this.finishes.finish(finishPlan(job, 'failed', reason, this.deps.workerId))),
        );
        run.ended('failed');
        log.warn('job failed', { event: 'job.failed', type: job.type, error: reason });
        return 'skipped';
      }
      const { outcome, warnings } = result;
      await inSpan('record outcome', spanAttributes(job), () =>
        this.admin(() => this.finishes.finish(finishPlan(job, 'succeeded', null, this.deps.workerId, result))),
      );
      run.ended('succeeded');
      if (warnings.length)
        log.warn('job succeeded with warnings', { event: 'job.warning', type: job.type, outcome, warnings });
      log.info('job succeeded', { event: 'job.succeeded', type: job.type, outcome });
      return outcome;
    } finally {
      await lock.release().catch(() => undefined);
    }
  }

  /**
   * An admin-database step, tried again while the database is unavailable or when its transaction
   * lost a deadlock (the instance-count rows a concurrent API transaction holds, docs/benchmarks.md
   * "Listing at scale"): a transaction the server aborted left nothing behind, and each step here
   * is safe to run again, so the race costs a retry rather than one of the job's attempts.
   */
  private admin<T>(op: () => Promise<T>): Promise<T> {
    const dialect = dialectOf(this.deps.dataSource);
    return retryTransient(op, {
      ...this.adminRetry,
      isTransient: (err) => dialect.isUnavailable(err) || dialect.isSerializationFailure(err),
      onRetry: (err, attempt, delayMs) =>
        this.deps.log.warn(
          dialect.isSerializationFailure(err)
            ? 'admin database transaction lost a race; retrying'
            : 'admin database unavailable; retrying',
          { event: 'admin_db.retrying', attempt, delayMs, error: errorText(err) },
        ),
    });
  }
}

/** An error's message, cut to fit the job and instance error columns. */
function errorText(err: unknown): string {
  return errorMessage(err).slice(0, 1900);
}

/** What a job's spans say of it: ids and kind, no names a caller chose. */
function spanAttributes(job: JobEntity): Record<string, string | number> {
  return {
    'odsim.job.id': job.id,
    'odsim.job.type': job.type,
    'odsim.instance.id': job.instanceId,
    'odsim.job.attempt': job.attempts,
  };
}
