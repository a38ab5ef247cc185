import { JobsOptions, Queue } from 'bullmq';
import type { RedisOptions } from 'ioredis';
import type { Operation } from '../instances/status';
import { queueTelemetry } from '../tracing/provider';
import { createRedisConnection, parseRedisUrl, RedisClient, RedisTarget } from '../redis';

/**
 * One queue per deployment carries every operation; the job name says which, the handler
 * registry dispatches. The deployment id in the name keeps two deployments that share a
 * Redis and a QUEUE_PREFIX from ever taking each other's jobs.
 */
export function queueName(deploymentId: string): string {
  return `instance-operations-${deploymentId}`;
}

/** What travels through Redis: ids only. The job row in the admin database is the source of truth. */
export interface JobPayload {
  jobId: string;
  instanceId: string;
  requestId: string | null;
}

export interface QueueJobRef {
  id: string;
  type: Operation;
  instanceId: string;
  requestId: string | null;
}

/**
 * Retries here are for the job as a whole (a worker that could not reach the admin database,
 * an instance locked by another worker); transient database-server errors are retried inside
 * the job, by the driver call, with their own backoff.
 */
export const JOB_OPTIONS: JobsOptions = {
  attempts: 25,
  backoff: { type: 'capped-exponential' },
  removeOnComplete: { age: 24 * 3600, count: 5000 },
  removeOnFail: { age: 7 * 24 * 3600, count: 5000 },
};

/**
 * The delay before BullMQ retries a job as a whole: exponential from 1 s, at most a minute.
 * BullMQ's own `exponential` has no cap (attempt 25 would wait months), so the job options
 * name this custom strategy and every worker registers it.
 */
export function cappedExponentialBackoff(attemptsMade: number): number {
  return Math.min(60_000, 1000 * 2 ** Math.max(0, attemptsMade - 1));
}

/** A connection to REDIS_URL's server, Sentinel set or cluster (shared/redis.ts); config carries the parsed target. */
export function redisConnection(target: string | RedisTarget, options: RedisOptions = {}): RedisClient {
  return createRedisConnection(typeof target === 'string' ? parseRedisUrl(target) : target, options);
}

/**
 * `prefix`: the key prefix from config (a hash tag on a cluster: shared/redis.ts keyPrefix). With
 * tracing on, an add is a producer span and the job carries its W3C trace context (docs/tracing.md).
 */
export function createQueue(connection: RedisClient, prefix: string, deploymentId: string): Queue<JobPayload> {
  return new Queue<JobPayload>(queueName(deploymentId), { connection, prefix, telemetry: queueTelemetry() });
}

/** A job as BullMQ adds it: under its row's id, ids only in its data, the product's options. */
function asBulkJob(job: QueueJobRef) {
  return {
    name: job.type,
    data: { jobId: job.id, instanceId: job.instanceId, requestId: job.requestId },
    opts: { ...JOB_OPTIONS, jobId: job.id },
  };
}

/** Adds the job under its row's id: adding it twice is a no-op while BullMQ still holds it. */
export function addJob(queue: Queue<JobPayload>, job: QueueJobRef) {
  const { name, data, opts } = asBulkJob(job);
  return queue.add(name, data, opts);
}

/** addJob for many at once: one round trip to Redis (BullMQ's addBulk), each add as idempotent as addJob's. */
export function addJobs(queue: Queue<JobPayload>, jobs: readonly QueueJobRef[]) {
  return queue.addBulk(jobs.map(asBulkJob));
}
