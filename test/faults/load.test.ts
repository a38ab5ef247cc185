import { expect } from 'chai';
import { stagingDatabaseName } from '../../shared/database-names';
import { AuditEventEntity, JobEntity } from '../../shared/database/entities';
import { expectServerMatchesRecords } from '../support/consistency';
import { withServer } from '../support/ods-server';
import { SMALL_TEMPLATE } from '../support/settings';
import { WorkerProcess } from '../support/processes';
import { Stack, startStack } from '../support/stack';
import { waitFor } from '../support/wait';

describe('load and concurrency', function () {
  this.timeout(300_000);

  describe('three worker processes and 100 creates', () => {
    const CREATES = 100;
    const GLOBAL = 2;
    let stack: Stack;
    const workers: WorkerProcess[] = [];
    before(async () => {
      // The small template: what is proven is exactly-once and the global limit, not the copy's cost
      // (bench/ measures that); the Ed-Fi-sized one made this the suite's slowest file.
      stack = await startStack({
        worker: false,
        env: { GLOBAL_CONCURRENCY: String(GLOBAL), WORKER_CONCURRENCY: '2', ODS_TEMPLATE_DATABASE: SMALL_TEMPLATE },
      });
    });
    after(async () => {
      await Promise.all(workers.map((w) => w.kill('SIGTERM')));
      await stack.stop();
    });

    it(`creates each database exactly once and never runs more than ${GLOBAL} clones at once`, async () => {
      for (let i = 0; i < 3; i++) workers.push(new WorkerProcess({ ...stack.env, LOG_LEVEL: 'info' }));
      await Promise.all(workers.map((w) => w.waitForEvent('worker.started')));
      const posts = await Promise.all(
        Array.from({ length: CREATES }, (_, i) =>
          stack.request('POST', '/admin/instances', {
            body: { instanceName: `Load ${stack.id} ${i}`, databaseName: stack.db(`load_${i}`) },
          }),
        ),
      );
      expect(posts.map((p) => p.status)).to.deep.equal(Array(CREATES).fill(201));

      let samples = 0;
      let peak = 0;
      let done = false;
      // This test's clones only: other suites on the same server clone too.
      const clones = posts.map((p) => `CREATE DATABASE "${stagingDatabaseName(String(p.body.job.id))}"%`);
      const sampler = (async () => {
        await withServer(async (c) => {
          while (!done) {
            const r = await c.query<{ n: number }>(
              `SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = 'active' AND query LIKE ANY($1)`,
              [clones],
            );
            samples++;
            peak = Math.max(peak, r.rows[0]?.n ?? 0);
            await new Promise((resolve) => setTimeout(resolve, 5));
          }
        });
      })();
      const jobs = stack.dataSource.getRepository(JobEntity);
      try {
        await waitFor(
          async () => (await jobs.countBy({ status: 'succeeded' })) === CREATES,
          `${CREATES} creates`,
          280_000,
          250,
        );
      } finally {
        done = true;
        await sampler;
      }
      expect(peak, 'concurrent clones seen in pg_stat_activity').to.be.within(1, GLOBAL);
      const audit = await stack.dataSource
        .getRepository(AuditEventEntity)
        .find({ where: { action: 'instance.create', outcome: 'succeeded' } });
      expect(audit).to.have.length(CREATES);
      expect(
        audit.every((a) => JSON.parse(a.details!).outcome === 'created'),
        'every create cloned exactly once',
      ).to.equal(true);
      expect(new Set(audit.map((a) => a.instanceId)).size).to.equal(CREATES);
      const perWorker = workers.map((w) => w.events('job.succeeded').length);
      expect(perWorker.reduce((a, b) => a + b, 0)).to.equal(CREATES);
      await expectServerMatchesRecords(stack);
      console.log(
        `      ${samples} samples of pg_stat_activity, peak ${peak} concurrent clones (limit ${GLOBAL}); jobs per worker: ${perWorker.join(', ')}`,
      );
    });
  });

  describe('50 concurrent conflicting requests on one instance', () => {
    let stack: Stack;
    before(async () => {
      stack = await startStack();
    });
    after(async () => stack.stop());

    it('accepts one and answers 409 to the others while its job is unfinished', async () => {
      const instance = await stack.createInstance('contended');
      await stack.stopWorkers();
      const requests = Array.from({ length: 50 }, (_, i) =>
        i % 3 === 2
          ? stack.request('DELETE', `/admin/instances/${instance.id}`)
          : stack.request('PUT', `/admin/instances/${instance.id}`, {
              body: { databaseName: stack.db(`contended_${i}`) },
            }),
      );
      const results = await Promise.all(requests);
      const statuses = results.map((r) => r.status);
      expect(statuses.filter((s) => s === 200)).to.have.length(1);
      expect(statuses.filter((s) => s === 409)).to.have.length(49);
      expect(
        results
          .filter((r) => r.status === 409)
          .every((r) => r.headers.get('content-type')?.startsWith('application/problem+json')),
      ).to.equal(true);
      const unfinished = await stack.dataSource.getRepository(JobEntity).count({
        where: [
          { instanceId: instance.id, status: 'queued' },
          { instanceId: instance.id, status: 'running' },
        ],
      });
      expect(unfinished).to.equal(1);
      await stack.startWorker();
      const winner = results.find((r) => r.status === 200)!.body;
      const final = await stack.waitForStatus(instance.id, winner.status === 'PendingDelete' ? 'Deleted' : 'Created');
      if (winner.status === 'PendingRename')
        expect(final.databaseName).to.equal(
          winner.job && (await stack.request('GET', `/admin/jobs/${winner.job.id}`)).body.targetDatabaseName,
        );
      await expectServerMatchesRecords(stack);
    });

    it('keeps at most one unfinished job at every moment while a worker runs them as they come', async () => {
      const instance = await stack.createInstance('contended_live');
      let accepted = 0;
      let conflicts = 0;
      let peakUnfinished = 0;
      const jobs = stack.dataSource.getRepository(JobEntity);
      for (let round = 0; round < 5; round++) {
        const burst = await Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            stack.request('PUT', `/admin/instances/${instance.id}`, {
              body: { databaseName: stack.db(`live_${round}_${i}`) },
            }),
          ),
        );
        accepted += burst.filter((r) => r.status === 200).length;
        conflicts += burst.filter((r) => r.status === 409).length;
        expect(burst.every((r) => r.status === 200 || r.status === 409)).to.equal(true);
        peakUnfinished = Math.max(
          peakUnfinished,
          await jobs.count({
            where: [
              { instanceId: instance.id, status: 'queued' },
              { instanceId: instance.id, status: 'running' },
            ],
          }),
        );
        await stack.waitForStatus(instance.id, 'Created');
      }
      expect(accepted).to.be.at.least(5);
      expect(accepted + conflicts).to.equal(50);
      expect(peakUnfinished).to.equal(1);
      const final = (await stack.request('GET', `/admin/instances/${instance.id}`)).body;
      const lastRename = (await stack.request('GET', `/admin/instances/${instance.id}/jobs`)).body[0];
      expect(final.databaseName).to.equal(lastRename.targetDatabaseName);
      await expectServerMatchesRecords(stack);
    });
  });
});
