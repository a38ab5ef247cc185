import { expect } from 'chai';
import type { Queue } from 'bullmq';
import type { RedisClient } from '../../shared/redis';
import { createQueue, type JobPayload, redisConnection } from '../../shared/jobs/queue';
import type { CreateRequest, EngineDriver } from '../../worker/engines/engine';
import { createDriver } from '../../worker/engines/registry';
import { reportProgress } from '../../worker/jobs/progress';
import { REDIS_URL, SMALL_TEMPLATE } from '../support/settings';
import { type Stack, startStack } from '../support/stack';

/**
 * A long copy (a SQL Server restore, an Azure copy) reports its progress through
 * DriverContext.onProgress; the worker sends each report to the job it belongs to, though one
 * driver serves every job at once. The engines that report cannot run here, so a driver that
 * reports before doing the real PostgreSQL work stands in for them.
 */
describe('job progress from the engine', function () {
  this.timeout(60_000);
  let stack: Stack;
  let redis: RedisClient;
  let queue: Queue<JobPayload>;

  before(async () => {
    stack = await startStack({ worker: false, env: { ODS_TEMPLATE_DATABASE: SMALL_TEMPLATE } });
    redis = redisConnection(REDIS_URL);
    queue = createQueue(redis, stack.apiConfig.redis.prefix, stack.deploymentId);
  });
  after(async () => {
    await queue?.close();
    redis?.disconnect();
    await stack?.stop();
  });

  /** Reports 50 % and then 100 % of each create, naming its database, while other creates run too. */
  function reportingDriver(real: EngineDriver): EngineDriver {
    return {
      engine: real.engine,
      async create(request: CreateRequest) {
        reportProgress(50, `half of ${request.databaseName}`);
        await new Promise((resolve) => setTimeout(resolve, 300));
        const result = await real.create(request);
        reportProgress(100, `all of ${request.databaseName}`);
        return result;
      },
      drop: (request) => real.drop(request),
      rename: (request) => real.rename(request),
      adopt: (request) => real.adopt(request),
      release: (request) => real.release(request),
      isTransient: (err) => real.isTransient(err),
      close: () => real.close(),
    };
  }

  it('reaches the BullMQ job of the create it belongs to, with two creates running at once', async () => {
    await stack.startWorker({}, reportingDriver(createDriver(stack.workerConfig, stack.log)));
    const posted = await Promise.all(
      ['first', 'second'].map((suffix) =>
        stack.request('POST', '/admin/instances', {
          body: { instanceName: `Progress ${suffix}`, databaseName: stack.db(suffix) },
        }),
      ),
    );
    for (const created of posted) expect(created.status).to.equal(201);
    for (const created of posted) await stack.waitForStatus(created.body.id, 'Created');
    for (const [i, created] of posted.entries()) {
      const job = await queue.getJob(created.body.job.id);
      expect(job, 'the BullMQ job').to.not.equal(undefined);
      expect(job!.progress).to.deep.equal({
        percent: 100,
        message: `all of ${stack.db(i === 0 ? 'first' : 'second')}`,
      });
    }
  });

  it('is dropped quietly when no job is running (a driver used outside the worker)', () => {
    expect(() => reportProgress(10, 'nobody listens')).to.not.throw();
  });
});
