import { expect } from 'chai';
import { JobEntity } from '../../shared/database/entities';
import { expectEachCreatedOnce, expectServerMatchesRecords } from '../support/consistency';
import { PrivateRedis, WorkerProcess } from '../support/processes';
import { Stack, startStack } from '../support/stack';
import { waitFor } from '../support/wait';

const JOBS = 30;

/*
 * Redis keeps nothing on disk here, as on the test machines: a flush or a restart loses
 * every queued and active BullMQ job. The job rows in the admin database must bring all
 * of them back (the reconciler), and each instance must be created exactly once.
 */
describe(`losing Redis while ${JOBS} jobs are queued or running`, function () {
  this.timeout(240_000);

  for (const fault of ['FLUSHALL', 'restart'] as const) {
    describe(fault, () => {
      let redis: PrivateRedis;
      let stack: Stack;
      const workers: WorkerProcess[] = [];

      before(async () => {
        redis = await PrivateRedis.start();
        stack = await startStack({
          worker: false,
          env: {
            REDIS_URL: redis.url,
            RECONCILE_INTERVAL_MS: '500',
            JOB_LOCK_DURATION_MS: '3000',
            STALLED_INTERVAL_MS: '1000',
            GLOBAL_CONCURRENCY: '2',
          },
        });
      });
      after(async () => {
        await Promise.all(workers.map((w) => w.kill('SIGKILL')));
        await stack.stop();
        await redis.stop();
      });

      it(`finishes all ${JOBS} creates exactly once`, async () => {
        const ids: string[] = [];
        for (let i = 0; i < JOBS; i++) {
          const r = await stack.request('POST', '/admin/instances', {
            body: { instanceName: `Loss ${fault} ${stack.id} ${i}`, databaseName: stack.db(`loss_${i}`) },
          });
          expect(r.status).to.equal(201);
          ids.push(r.body.id);
        }
        for (let i = 0; i < 2; i++) workers.push(new WorkerProcess({ ...stack.env, LOG_LEVEL: 'info' }));
        const jobs = stack.dataSource.getRepository(JobEntity);
        // Strike while some jobs are done, some running and most still queued.
        await waitFor(
          async () => (await jobs.countBy({ status: 'succeeded' })) >= 3,
          'a few jobs to finish',
          60_000,
          20,
        );
        const running = await jobs.countBy({ status: 'running' });
        if (fault === 'FLUSHALL') await redis.flushAll();
        else await redis.restart();
        const unfinishedAtFault = await jobs.count({ where: [{ status: 'queued' }, { status: 'running' }] });
        expect(unfinishedAtFault, 'jobs still unfinished when Redis was lost').to.be.greaterThan(10);

        await waitFor(
          async () => (await jobs.countBy({ status: 'succeeded' })) === JOBS,
          `all ${JOBS} jobs to succeed`,
          180_000,
          200,
        );
        const { clones: created } = await expectEachCreatedOnce(stack, ids);
        await expectServerMatchesRecords(stack);
        const reEnqueued = workers.flatMap((w) => w.events('reconciler.enqueued')).length;
        expect(reEnqueued, 're-enqueued by the reconciler').to.be.greaterThan(0);
        console.log(
          `      ${fault}: ${unfinishedAtFault} unfinished (${running} running) at the fault, ${reEnqueued} re-enqueued, ${created} clones, 0 lost`,
        );
      });
    });
  }
});
