import { expect } from 'chai';
import { Queue, Worker } from 'bullmq';
import type { JobEntity } from '../../shared/database/entities';
import { addJobs, createQueue, JOB_OPTIONS, type JobPayload, redisConnection } from '../../shared/jobs/queue';
import type { RedisClient } from '../../shared/redis';
import { Reconciler } from '../../worker/reconciler';
import { insertUnfinishedJobs } from '../support/job-rows';
import { CapturedLog } from '../support/log-capture';
import { Stack, startStack } from '../support/stack';

/*
 * A pass reads the unfinished rows a page (1,000) at a time and asks Redis about a whole page in
 * one pipeline: over more rows than one page it must still put back exactly the jobs that are
 * missing, or only finished, in Redis, on every page, and leave the live ones alone.
 */
describe('reconciler over more unfinished jobs than one page', function () {
  this.timeout(60_000);
  const ROWS = 2300;
  let stack: Stack;
  let redis: RedisClient;
  let queue: Queue<JobPayload>;
  let jobs: JobEntity[];

  before(async () => {
    stack = await startStack({ worker: false });
    redis = redisConnection(stack.workerConfig.redis.target);
    queue = createQueue(redis, stack.workerConfig.redis.prefix, stack.deploymentId);
    jobs = await insertUnfinishedJobs(stack.dataSource, ROWS, `t_${stack.id}_rec`);
  });
  after(async () => {
    await queue.close();
    redis.disconnect();
    // Without them, stop() need not look for 2,300 staging databases.
    await stack.dataSource.query('DELETE FROM jobs');
    await stack.dataSource.query('DELETE FROM instances');
    await stack.stop();
  });

  it('puts back exactly the missing and the finished BullMQ jobs on every page, and nothing else', async () => {
    // One finished job on the first page (completed) and one on the third (failed), though their rows are unfinished.
    const completed = jobs[5]!;
    const failed = jobs[2105]!;
    for (const job of [completed, failed])
      await queue.add(
        job.type,
        { jobId: job.id, instanceId: job.instanceId, requestId: null },
        { jobId: job.id, attempts: 1 },
      );
    const taker = new Worker<JobPayload>(queue.name, undefined, {
      connection: redis,
      prefix: stack.workerConfig.redis.prefix,
    });
    try {
      const first = await taker.getNextJob('t1');
      const second = await taker.getNextJob('t2');
      expect([first?.id, second?.id]).to.deep.equal([completed.id, failed.id]);
      await first!.moveToCompleted('done', 't1', false);
      await second!.moveToFailed(new Error('gone'), 't2', false);
    } finally {
      await taker.close();
    }
    expect(await queue.getJobState(completed.id)).to.equal('completed');
    expect(await queue.getJobState(failed.id)).to.equal('failed');

    // Every 10th job missing, from the first page to the last (partial) one.
    const missing = jobs.filter((_, i) => i % 10 === 3);
    const live = jobs.filter((job, i) => i % 10 !== 3 && job !== completed && job !== failed);
    for (let from = 0; from < live.length; from += 500) await addJobs(queue, live.slice(from, from + 500));

    const log = new CapturedLog();
    const reconciler = new Reconciler(stack.dataSource, queue, log.logger, 3_600_000);

    const report = await reconciler.runOnce();
    const expected = [...missing, completed, failed].map((j) => j.id);
    expect(report).to.deep.equal({ unfinished: ROWS, enqueued: expected.length, reopened: 0 });
    const reenqueued = log.events('reconciler.enqueued').map((e) => String(e.jobId));
    expect(reenqueued.sort()).to.deep.equal([...expected].sort());
    const waiting = await queue.getJobs(['waiting'], 0, -1);
    expect(waiting).to.have.length(ROWS);
    const byId = new Map(waiting.map((j) => [j.id, j]));
    for (const job of jobs)
      expect(byId.get(job.id)?.data, job.id).to.deep.equal({
        jobId: job.id,
        instanceId: job.instanceId,
        requestId: null,
      });
    // Put back with the product's job options, not the test's one attempt.
    expect(byId.get(completed.id)!.opts.attempts).to.equal(JOB_OPTIONS.attempts);

    // A second pass finds every job there.
    expect(await reconciler.runOnce()).to.deep.equal({ unfinished: ROWS, enqueued: 0, reopened: 0 });
  });
});
