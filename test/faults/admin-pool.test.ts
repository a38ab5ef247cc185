import { expect } from 'chai';
import { JobEntity } from '../../shared/database/entities';
import { expectServerMatchesRecords } from '../support/consistency';
import { CapturedLog } from '../support/log-capture';
import { Stack, startStack } from '../support/stack';
import { waitFor } from '../support/wait';

/*
 * Issue 6, finding 5: a running job must never hold one connection of the admin pool while
 * it waits for another, or a worker whose concurrency reaches the pool size deadlocks on
 * itself (and reports its own pool as an admin database outage).
 */
describe('a worker whose concurrency reaches the admin pool size', function () {
  this.timeout(240_000);
  const CREATES = 20;

  for (const poolSize of [10, 3]) {
    describe(`WORKER_CONCURRENCY=10, ADMIN_DATABASE_POOL_SIZE=${poolSize}`, () => {
      let stack: Stack;
      const log = new CapturedLog('test', 'info');
      before(async () => {
        stack = await startStack({
          logger: log.logger,
          env: { WORKER_CONCURRENCY: '10', GLOBAL_CONCURRENCY: '10', ADMIN_DATABASE_POOL_SIZE: String(poolSize) },
        });
      });
      after(async () => stack.stop());

      it(`creates all ${CREATES} instances without one false "admin database unavailable" retry`, async () => {
        const started = Date.now();
        const posts = await Promise.all(
          Array.from({ length: CREATES }, (_, i) =>
            stack.request('POST', '/admin/instances', {
              body: { instanceName: `Pool ${poolSize} ${stack.id} ${i}`, databaseName: stack.db(`pool_${i}`) },
            }),
          ),
        );
        expect(posts.map((p) => p.status)).to.deep.equal(Array(CREATES).fill(201));
        const jobs = stack.dataSource.getRepository(JobEntity);
        let finished = false;
        try {
          await waitFor(
            async () => (await jobs.countBy({ status: 'succeeded' })) === CREATES,
            `all ${CREATES} creates`,
            120_000,
            200,
          );
          finished = true;
        } finally {
          console.log(
            `      pool ${poolSize}: ${log.events('admin_db.retrying').length} admin_db.retrying events; ${finished ? `all ${CREATES} Created after ${((Date.now() - started) / 1000).toFixed(1)} s` : `${await jobs.countBy({ status: 'succeeded' })} of ${CREATES} done at the deadline`}`,
          );
        }
        expect(log.events('admin_db.retrying'), 'admin_db.retrying events').to.deep.equal([]);
        for (const p of posts)
          expect((await stack.request('GET', `/admin/instances/${p.body.id}`)).body.status).to.equal('Created');
        await expectServerMatchesRecords(stack);
      });
    });
  }
});
