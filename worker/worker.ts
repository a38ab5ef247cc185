import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { Worker } from 'bullmq';
import type { RedisClient } from '../shared/redis';
import type { DataSource } from 'typeorm';
import { databaseNameOf, type WorkerConfig } from '../shared/config';
import { createAdminLockSessions } from '../shared/database/data-source';
import { readDeploymentId } from '../shared/deployment/identity';
import { SharedRedisWatch } from '../shared/deployment/shared-redis';
import { cappedExponentialBackoff, createQueue, JobPayload } from '../shared/jobs/queue';
import type { Logger } from '../shared/logger';
import { queueTelemetry } from '../shared/tracing/provider';
import type { EngineDriver } from './engines/engine';
import { Registrations } from './edfi-admin/registry';
import type { RegistrationSettings } from './edfi-admin/settings';
import { JobLocks } from './jobs/job-locks';
import { JobProcessor } from './jobs/processor';
import { InventoryWorker } from './inventory/inventory-worker';
import { Reconciler } from './reconciler';
import { WorkerMetrics } from './metrics/worker-metrics';
import { startWorkerListener } from './metrics/listener';
import type { MetricsListener } from '../shared/metrics/listener';
import { checkRedisSetup } from './redis-check';

export interface WorkerDeps {
  config: WorkerConfig;
  dataSource: DataSource;
  driver: EngineDriver;
  /** Used for the queue and as the template for BullMQ's own blocking connection. */
  redis: RedisClient;
  logger: Logger;
  workerId?: string;
  /** EdFi_Admin per tenant (worker/edfi-admin/settings.ts); registration is off when absent or empty. */
  registration?: RegistrationSettings;
  /** Fault tests only: called at each named step of the EdFi_Admin work (worker/fault-injection.ts). */
  onStep?: (step: string) => Promise<void>;
}

export interface RunningWorker {
  readonly workerId: string;
  readonly reconciler: Reconciler;
  readonly processor: JobProcessor;
  readonly metrics: WorkerMetrics;
  /** Where METRICS_PORT listens (/metrics, /health/live, /health/ready); absent when it is unset. */
  readonly metricsListener?: MetricsListener;
  stop(): Promise<void>;
}

/**
 * How long a delivered job waits in the worker for a free concurrency slot before it is put back on the
 * queue: longer than most copies, so in a burst the extra jobs the gate lets through take the next free
 * slot directly; bounded, so a job never sits here indefinitely while slots are held elsewhere.
 */
const SLOT_WAIT_MS = 10_000;

/** Wires processor, BullMQ worker and reconciler; `main.ts` only reads config and connects. */
export async function createWorker(deps: WorkerDeps): Promise<RunningWorker> {
  const { config, logger } = deps;
  const workerId = deps.workerId ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const log = logger.child({ workerId });
  const deploymentId = await readDeploymentId(deps.dataSource);
  // Checked before any job is taken: a missing table or a key that reads none of the rows refuses the start.
  const registrations = deps.registration?.size
    ? await Registrations.open(deps.registration, {
        log,
        onStep: deps.onStep,
        poolSize: config.concurrency.perWorker + 1,
        lockTimeoutMs: config.ods.lockTimeoutMs,
      })
    : Registrations.none();
  if (registrations.enabled)
    log.info('registering instances in EdFi_Admin', { event: 'edfi_admin.enabled', tenants: registrations.tenants });
  // Warns, once at start, of a Redis that may evict or forget the queue (docs/redis.md); never holds the start.
  void checkRedisSetup(deps.redis, log);
  const queue = createQueue(deps.redis, config.redis.prefix, deploymentId);
  queue.on('error', (err) => log.warn('queue error', { event: 'queue.error', error: err.message }));
  // BullMQ's global concurrency is a gate, not the limit: the admin database's slots are
  // (worker/jobs/job-locks.ts). It lives in Redis, so it goes with Redis's data and is set again
  // on every reconnect and reconcile pass. The gate leaves one worker's worth of room above the limit, so that while a dead worker's
  // jobs still count in BullMQ (until their locks lapse) healthy workers keep taking work:
  // the dead worker's slots were freed with its session. A job taken without a free slot is
  // put back at once, without spending an attempt.
  const applyGlobalConcurrency = () =>
    queue.setGlobalConcurrency(config.concurrency.global + config.concurrency.perWorker);
  await applyGlobalConcurrency();
  const onRedisReady = () =>
    void applyGlobalConcurrency().catch((err: Error) =>
      log.warn('could not set the global concurrency', { event: 'queue.concurrency_failed', error: err.message }),
    );
  deps.redis.on('ready', onRedisReady);

  // One session per job slot of this worker, plus one so that a session being handed back never delays the next job.
  // A job the gate let through while every slot is held waits here for one (woken at once when a job of this
  // worker ends) rather than being put back and fetched again and again: see worker/jobs/job-locks.ts.
  const locks = new JobLocks(
    createAdminLockSessions(config.adminDatabase, config.concurrency.perWorker + 1, log),
    config.concurrency.global,
    log,
    { slotWaitMs: SLOT_WAIT_MS },
  );
  const metrics = new WorkerMetrics(deps.driver.engine);
  const processor = new JobProcessor({
    metrics,
    dataSource: deps.dataSource,
    locks,
    driver: deps.driver,
    templateDatabase: config.ods.templateDatabase,
    templates: config.ods.templates,
    reservedNames: [databaseNameOf(config.adminDatabase.url), ...config.ods.reservedNames],
    workerId,
    log,
    transientRetry: config.transientRetry,
    registrations,
  });
  const worker = new Worker<JobPayload>(queue.name, (job, token) => processor.process(job, token), {
    connection: deps.redis,
    prefix: config.redis.prefix,
    concurrency: config.concurrency.perWorker,
    lockDuration: config.locks.lockDurationMs,
    stalledInterval: config.locks.stalledIntervalMs,
    maxStalledCount: 5,
    settings: { backoffStrategy: cappedExponentialBackoff },
    // With tracing on, each delivery is a consumer span continuing the trace the job carries.
    telemetry: queueTelemetry(),
  });
  worker.on('error', (err) => log.warn('worker error', { event: 'worker.error', error: err.message }));
  worker.on('failed', (job, err) =>
    log.warn('delivery failed; BullMQ will retry', {
      event: 'job.delivery_failed',
      jobId: job?.id,
      error: err.message,
    }),
  );

  // Only a driver that can survey its server takes inventory runs (not Azure SQL Database, nor a command engine verified on one that cannot).
  const survey = deps.driver.survey?.bind(deps.driver);
  const inventory = survey
    ? await InventoryWorker.start({
        dataSource: deps.dataSource,
        redis: deps.redis,
        prefix: config.redis.prefix,
        deploymentId,
        workerId,
        intervalMs: config.inventoryIntervalMs,
        survey,
        log,
        onRun: (outcome) => metrics.inventoryRun(outcome),
      })
    : null;
  if (!inventory)
    log.info('this engine takes no inventory', { event: 'inventory.unavailable', engine: config.ods.engine });

  const reconciler = new Reconciler(
    deps.dataSource,
    queue,
    log,
    config.reconcileIntervalMs,
    applyGlobalConcurrency,
    deps.driver.reopenCopySource?.bind(deps.driver),
    () => metrics.reconcilerReenqueued(),
  );
  reconciler.start();
  const sharedRedis = new SharedRedisWatch(deps.redis, config.redis.prefix, deploymentId, log);
  sharedRedis.start();
  const metricsListener =
    config.metrics.port === null
      ? undefined
      : await startWorkerListener(
          { port: config.metrics.port, host: config.metrics.host },
          { metrics, dataSource: deps.dataSource, redis: deps.redis, log },
        );
  log.info('worker started', {
    event: 'worker.started',
    concurrency: config.concurrency,
    engine: config.ods.engine,
    deploymentId,
  });

  // Idempotent: a shutdown signal and a test's clean-up may both ask.
  let stopping: Promise<void> | undefined;
  return {
    workerId,
    reconciler,
    processor,
    metrics,
    metricsListener,
    stop() {
      stopping ??= (async () => {
        sharedRedis.stop();
        await metricsListener?.close();
        deps.redis.removeListener('ready', onRedisReady);
        await reconciler.stop();
        processor.stopWaiting();
        locks.stopWaiting();
        await worker.close();
        await inventory?.stop();
        await queue.close();
        await locks.close();
        await registrations.close();
      })();
      return stopping;
    },
  };
}
