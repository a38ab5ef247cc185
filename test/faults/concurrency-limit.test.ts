import { expect } from 'chai';
import { JobEntity } from '../../shared/database/entities';
import { stagingDatabaseName } from '../../shared/database-names';
import { silentLogger } from '../../shared/logger';
import { sleep } from '../../shared/retry';
import type { CreateRequest, DropRequest, EngineDriver, RenameRequest } from '../../worker/engines/engine';
import { PostgresDriver } from '../../worker/engines/postgres/driver';
import { expectServerMatchesRecords } from '../support/consistency';
import { withServer } from '../support/ods-server';
import { PrivateRedis } from '../support/processes';
import { POSTGRES_URL } from '../support/settings';
import { Stack, startStack } from '../support/stack';
import { waitFor } from '../support/wait';

/** Counts the creates running at once across every worker that shares it. */
class Gauge {
  active = 0;
  peak = 0;
  enter(): void {
    this.active++;
    this.peak = Math.max(this.peak, this.active);
  }
  leave(): void {
    this.active--;
  }
}

/** The real driver, counted; each create lingers after its clone, as a large template's would. */
function countedDriver(gauge: Gauge, lingerMs: number): EngineDriver {
  const real = new PostgresDriver({
    serverUrl: POSTGRES_URL,
    log: silentLogger(),
    onStep: async (step) => {
      if (step === 'create.cloned') await sleep(lingerMs);
    },
  });
  return {
    engine: real.engine,
    async create(request: CreateRequest) {
      gauge.enter();
      try {
        return await real.create(request);
      } finally {
        gauge.leave();
      }
    },
    drop: (request: DropRequest) => real.drop(request),
    rename: (request: RenameRequest) => real.rename(request),
    adopt: (request) => real.adopt(request),
    release: (request) => real.release(request),
    isTransient: (err: unknown) => real.isTransient(err),
    close: () => real.close(),
  };
}

/*
 * Issue 6, finding 4: BullMQ keeps its global concurrency in Redis. When Redis loses its
 * data, the limit (and the count of jobs still running in workers) goes with it; the admin
 * database must keep the promise instead.
 */
describe('GLOBAL_CONCURRENCY=1 across a Redis that loses its data', function () {
  this.timeout(240_000);
  const CREATES = 6;

  for (const fault of ['FLUSHALL', 'restart'] as const) {
    describe(fault, () => {
      let redis: PrivateRedis;
      let stack: Stack;
      before(async () => {
        redis = await PrivateRedis.start();
        stack = await startStack({
          worker: false,
          env: { REDIS_URL: redis.url, GLOBAL_CONCURRENCY: '1', WORKER_CONCURRENCY: '3' },
        });
      });
      after(async () => {
        await stack.stop();
        await redis.stop();
      });

      it('never runs two creates at once, counted in the drivers and in pg_stat_activity', async () => {
        const gauge = new Gauge();
        for (let i = 0; i < 2; i++) await stack.startWorker({}, countedDriver(gauge, 1500));
        const posts = [];
        for (let i = 0; i < CREATES; i++) {
          posts.push(
            await stack.request('POST', '/admin/instances', {
              body: { instanceName: `Limit ${fault} ${stack.id} ${i}`, databaseName: stack.db(`limit_${i}`) },
            }),
          );
        }
        expect(posts.map((p) => p.status)).to.deep.equal(Array(CREATES).fill(201));
        const clones = posts.map((p) => `CREATE DATABASE "${stagingDatabaseName(p.body.job.id)}"%`);

        let serverPeak = 0;
        let samples = 0;
        let done = false;
        const sampler = withServer(async (c) => {
          while (!done) {
            const r = await c.query(
              `SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = 'active' AND query LIKE ANY($1)`,
              [clones],
            );
            serverPeak = Math.max(serverPeak, r.rows[0].n);
            samples++;
            await sleep(5);
          }
        });
        const jobs = stack.dataSource.getRepository(JobEntity);
        try {
          // Strike while one create runs and the others wait for the limit.
          await waitFor(
            async () => (await jobs.countBy({ status: 'succeeded' })) >= 1 && gauge.active === 1,
            'a create in progress after a first success',
            60_000,
            10,
          );
          if (fault === 'FLUSHALL') await redis.flushAll();
          else await redis.restart();
          await waitFor(
            async () => (await jobs.countBy({ status: 'succeeded' })) === CREATES,
            `all ${CREATES} creates`,
            150_000,
            200,
          );
        } finally {
          done = true;
          await sampler;
        }
        console.log(
          `      ${fault}: peak ${gauge.peak} creates at once in the drivers, ${serverPeak} CREATE DATABASE at once over ${samples} samples (limit 1)`,
        );
        expect(gauge.peak, 'creates at once in the drivers').to.equal(1);
        expect(serverPeak, 'CREATE DATABASE at once on the server').to.equal(1);
        for (const p of posts)
          expect((await stack.request('GET', `/admin/instances/${p.body.id}`)).body.status).to.equal('Created');
        await expectServerMatchesRecords(stack);
      });
    });
  }
});
