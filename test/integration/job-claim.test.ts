import { expect } from 'chai';
import { InstanceEntity, JobEntity } from '../../shared/database/entities';
import { JobClaim } from '../../worker/jobs/claim';
import { type Stack, startStack } from '../support/stack';

/**
 * worker/jobs/claim.ts: on PostgreSQL the claim is one statement (a data-modifying CTE); on SQL
 * Server it is a TypeORM transaction of five round trips. Both forms run here, on PostgreSQL:
 * they must change the same rows in the same way, both or neither, and return the job as
 * TypeORM's find would.
 */
for (const form of ['one statement', 'transaction'] as const)
  describe(`the job claim (${form})`, function () {
    this.timeout(60_000);
    let stack: Stack;
    let claims: JobClaim;

    before(async () => {
      stack = await startStack({ worker: false });
      claims = new JobClaim(stack.dataSource, 'claim-test-worker', { transaction: form === 'transaction' });
    });
    after(async () => stack?.stop());

    async function queuedCreate(name: string): Promise<{ instanceId: string; job: JobEntity }> {
      const created = await stack.request('POST', '/admin/instances', {
        body: { instanceName: `${name} ${stack.id}`, databaseName: stack.db(name) },
      });
      expect(created.status, JSON.stringify(created.body)).to.equal(201);
      const job = await stack.dataSource.getRepository(JobEntity).findOneByOrFail({ id: created.body.job.id });
      return { instanceId: created.body.id, job };
    }
    const instance = (id: string) => stack.dataSource.getRepository(InstanceEntity).findOneByOrFail({ id });
    const job = (id: string) => stack.dataSource.getRepository(JobEntity).findOneByOrFail({ id });

    it('moves a queued job to running, counting the attempt, and its instance to in progress; returns the job as TypeORM reads it', async () => {
      const { instanceId, job: queued } = await queuedCreate('claim_a');
      const before = Date.now();
      const claimed = await claims.claim(queued);
      expect(claimed).to.be.instanceOf(JobEntity);
      expect(claimed).to.deep.equal(await job(queued.id));
      expect(claimed).to.include({ status: 'running', attempts: 1, workerId: 'claim-test-worker' });
      expect(claimed!.startedAt!.getTime()).to.be.within(before - 1000, Date.now() + 1000);
      expect(claimed!.updatedAt.getTime()).to.equal(claimed!.startedAt!.getTime());
      expect((await instance(instanceId)).status).to.equal('CreateInProgress');
    });

    it('claims a running job again (a redelivery after a crash): one more attempt, the first start kept', async () => {
      const { job: queued } = await queuedCreate('claim_b');
      const first = await claims.claim(queued);
      const second = await claims.claim(first!);
      expect(second!.attempts).to.equal(2);
      expect(second!.startedAt).to.deep.equal(first!.startedAt);
    });

    it('returns null for a finished job and changes neither row', async () => {
      const { instanceId, job: queued } = await queuedCreate('claim_c');
      await stack.dataSource.getRepository(JobEntity).update({ id: queued.id }, { status: 'failed' });
      const jobBefore = await job(queued.id);
      const instanceBefore = await instance(instanceId);
      expect(await claims.claim(queued)).to.equal(null);
      expect(await job(queued.id)).to.deep.equal(jobBefore);
      expect(await instance(instanceId)).to.deep.equal(instanceBefore);
    });

    it('leaves an instance that is not where the operation starts (moved on by hand) as it is, and still claims the job', async () => {
      const { instanceId, job: queued } = await queuedCreate('claim_d');
      await stack.dataSource.getRepository(InstanceEntity).update({ id: instanceId }, { status: 'Created' });
      const claimed = await claims.claim(queued);
      expect(claimed!.status).to.equal('running');
      expect((await instance(instanceId)).status).to.equal('Created');
    });
  });
