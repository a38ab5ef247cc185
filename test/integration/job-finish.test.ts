import { expect } from 'chai';
import { AuditEventEntity, DatabaseNameClaimEntity, InstanceEntity, JobEntity } from '../../shared/database/entities';
import { nameKey } from '../../shared/database-names';
import { JobClaim } from '../../worker/jobs/claim';
import { finishPlan, JobFinish } from '../../worker/jobs/finish';
import { type Stack, startStack } from '../support/stack';

/**
 * worker/jobs/finish.ts: on PostgreSQL a job's end is one statement (data-modifying CTEs); on
 * SQL Server it is a TypeORM transaction. Both forms run here, on PostgreSQL, and must write
 * the same: the job, its instance, the freed name claims and one audit row, or nothing at all
 * when the job is no longer running.
 */
for (const form of ['one statement', 'transaction'] as const)
  describe(`the end of a job (${form})`, function () {
    this.timeout(60_000);
    let stack: Stack;
    let claims: JobClaim;
    let finishes: JobFinish;

    before(async () => {
      stack = await startStack({ worker: false });
      claims = new JobClaim(stack.dataSource, 'finish-test-worker', { transaction: form === 'transaction' });
      finishes = new JobFinish(stack.dataSource, { transaction: form === 'transaction' });
    });
    after(async () => stack?.stop());

    const repo = {
      job: (id: string) => stack.dataSource.getRepository(JobEntity).findOneByOrFail({ id }),
      instance: (id: string) => stack.dataSource.getRepository(InstanceEntity).findOneByOrFail({ id }),
      claims: async (instanceId: string) =>
        (await stack.dataSource.getRepository(DatabaseNameClaimEntity).findBy({ instanceId }))
          .map((c) => c.nameKey)
          .sort(),
      /** The worker's audit rows of the job (the API wrote its own when it accepted the request). */
      audit: (jobId: string) =>
        stack.dataSource.getRepository(AuditEventEntity).findBy({ jobId, actor: 'worker:finish-test-worker' }),
    };

    async function created(name: string): Promise<{ instanceId: string; job: JobEntity }> {
      const r = await stack.request('POST', '/admin/instances', {
        body: { instanceName: `${name} ${stack.id}`, databaseName: stack.db(name) },
      });
      expect(r.status, JSON.stringify(r.body)).to.equal(201);
      return { instanceId: r.body.id, job: (await claims.claim(await repo.job(r.body.job.id)))! };
    }

    it('records a success: the job with its warnings, the instance Created, one audit row; a second end writes nothing', async () => {
      const { instanceId, job } = await created('fin_ok');
      await finishes.finish(
        finishPlan(job, 'succeeded', null, 'finish-test-worker', { outcome: 'created', warnings: ['a warning'] }),
      );
      const row = await repo.job(job.id);
      expect(row).to.include({ status: 'succeeded', error: null });
      expect(row.warnings).to.deep.equal(['a warning']);
      expect(row.finishedAt!.getTime()).to.equal(row.updatedAt.getTime());
      const instance = await repo.instance(instanceId);
      expect(instance).to.include({ status: 'Created', lastError: null, deletedAt: null });
      expect(await repo.claims(instanceId)).to.deep.equal([nameKey(stack.db('fin_ok'))]);
      const audit = await repo.audit(job.id);
      expect(audit).to.have.length(1);
      expect(audit[0]).to.include({
        actor: 'worker:finish-test-worker',
        action: 'instance.create',
        outcome: 'succeeded',
        instanceId,
      });
      expect(JSON.parse(audit[0]!.details!)).to.deep.equal({
        outcome: 'created',
        error: null,
        attempts: 1,
        warnings: ['a warning'],
      });

      await finishes.finish(finishPlan(job, 'failed', 'late', 'finish-test-worker'));
      expect(await repo.job(job.id)).to.deep.equal(row);
      expect(await repo.instance(instanceId)).to.deep.equal(instance);
      expect(await repo.audit(job.id)).to.have.length(1);
    });

    it('records a failure: the instance CreateFailed with the reason, its name still claimed', async () => {
      const { instanceId, job } = await created('fin_failed');
      await finishes.finish(finishPlan(job, 'failed', 'the copy failed', 'finish-test-worker'));
      expect(await repo.job(job.id)).to.include({ status: 'failed', error: 'the copy failed' });
      expect(await repo.instance(instanceId)).to.include({ status: 'CreateFailed', lastError: 'the copy failed' });
      expect(await repo.claims(instanceId)).to.deep.equal([nameKey(stack.db('fin_failed'))]);
      expect((await repo.audit(job.id)).map((a) => a.outcome)).to.deep.equal(['failed']);
    });

    it('records a rename: the instance takes the new name and keeps the old as previous; only the old claim is freed', async () => {
      const { instanceId, job } = await created('fin_old');
      await finishes.finish(
        finishPlan(job, 'succeeded', null, 'finish-test-worker', { outcome: 'created', warnings: [] }),
      );
      const renamed = await stack.request('PUT', `/admin/instances/${instanceId}`, {
        body: { databaseName: stack.db('fin_new') },
      });
      expect(renamed.status, JSON.stringify(renamed.body)).to.equal(200);
      const rename = (await claims.claim(await repo.job(renamed.body.job.id)))!;
      await finishes.finish(
        finishPlan(rename, 'succeeded', null, 'finish-test-worker', { outcome: 'renamed', warnings: [] }),
      );
      expect(await repo.instance(instanceId)).to.include({
        status: 'Created',
        databaseName: stack.db('fin_new'),
        previousDatabaseName: stack.db('fin_old'),
      });
      expect(await repo.claims(instanceId)).to.deep.equal([nameKey(stack.db('fin_new'))]);
    });

    it('records a delete: the instance Deleted with its time, every claim freed, the registration cleared', async () => {
      const { instanceId, job } = await created('fin_gone');
      await finishes.finish(
        finishPlan(job, 'succeeded', null, 'finish-test-worker', { outcome: 'created', warnings: [] }),
      );
      await stack.dataSource.getRepository(InstanceEntity).update({ id: instanceId }, { odsInstanceId: 42 });
      const deleted = await stack.request('DELETE', `/admin/instances/${instanceId}`);
      expect(deleted.status, JSON.stringify(deleted.body)).to.equal(200);
      const del = (await claims.claim(await repo.job(deleted.body.job.id)))!;
      const before = Date.now();
      await finishes.finish(
        finishPlan(del, 'succeeded', null, 'finish-test-worker', {
          outcome: 'dropped',
          warnings: [],
          registration: { outcome: 'unregistered', odsInstanceId: null },
        }),
      );
      const instance = await repo.instance(instanceId);
      expect(instance).to.include({ status: 'Deleted', odsInstanceId: null });
      expect(instance.deletedAt!.getTime()).to.be.within(before - 1000, Date.now() + 1000);
      expect(await repo.claims(instanceId)).to.deep.equal([]);
    });

    it('refuses an error longer than its column, as the column always did, and writes nothing', async () => {
      const { instanceId, job } = await created('fin_long');
      const error = await finishes.finish(finishPlan(job, 'failed', 'x'.repeat(2001), 'finish-test-worker')).then(
        () => null,
        (err: Error) => err,
      );
      expect(error?.message).to.match(/too long/);
      expect(await repo.job(job.id)).to.include({ status: 'running' });
      expect(await repo.instance(instanceId)).to.include({ status: 'CreateInProgress' });
      expect(await repo.audit(job.id)).to.have.length(0);
    });
  });
