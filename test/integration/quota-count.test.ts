import { expect } from 'chai';
import { In } from 'typeorm';
import { JobEntity } from '../../shared/database/entities';
import { UNFINISHED_JOB_STATUSES } from '../../shared/instances/status';
import { unfinishedJobsCountSql } from '../../api/instances/service';
import { type Stack, startStack } from '../support/stack';

/**
 * The per-client quota's count (api/instances/service.ts), sent on every create: made once, as
 * COUNT(*) with the statuses written out, so that even a generic plan answers it from the
 * partial index ix_jobs_unfinished_by_client, and counting what TypeORM's countBy counted.
 */
describe('the quota count of a client’s unfinished jobs', function () {
  this.timeout(60_000);
  let stack: Stack;
  before(async () => {
    stack = await startStack({ worker: false });
    for (const name of ['quota_a', 'quota_b', 'quota_c']) {
      const r = await stack.request('POST', '/admin/instances', {
        body: { instanceName: `${name} ${stack.id}`, databaseName: stack.db(name) },
      });
      expect(r.status, JSON.stringify(r.body)).to.equal(201);
    }
    // One of them finished: not counted.
    const [first] = await stack.jobsRows();
    await stack.dataSource.getRepository(JobEntity).update({ id: first!.id }, { status: 'succeeded' });
  });
  after(async () => stack?.stop());

  it('counts what TypeORM’s countBy counted', async () => {
    const [client] = (await stack.jobsRows()).map((j) => j.requestedBy);
    const [row] = await stack.dataSource.query<{ n: string }[]>(unfinishedJobsCountSql(stack.dataSource), [client]);
    const expected = await stack.dataSource
      .getRepository(JobEntity)
      .countBy({ requestedBy: client, status: In([...UNFINISHED_JOB_STATUSES]) });
    expect(Number(row!.n)).to.equal(expected).and.to.equal(2);
    const [none] = await stack.dataSource.query<{ n: string }[]>(unfinishedJobsCountSql(stack.dataSource), ['nobody']);
    expect(Number(none!.n)).to.equal(0);
  });

  it('is answered from the partial index, with a generic plan too', async () => {
    const plan = await stack.dataSource.transaction(async (m) => {
      await m.query('SET LOCAL enable_seqscan = off');
      await m.query('SET LOCAL plan_cache_mode = force_generic_plan');
      await m.query(`PREPARE quota_count AS ${unfinishedJobsCountSql(stack.dataSource)}`);
      const rows = await m.query<{ 'QUERY PLAN': string }[]>(`EXPLAIN EXECUTE quota_count('someone')`);
      await m.query('DEALLOCATE quota_count');
      return rows.map((r) => r['QUERY PLAN']).join('\n');
    });
    expect(plan).to.include('ix_jobs_unfinished_by_client');
  });
});
