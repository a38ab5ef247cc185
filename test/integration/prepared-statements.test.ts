import { expect } from 'chai';
import { InstanceEntity, InventoryRunEntity, JobEntity } from '../../shared/database/entities';
import { InventoryStore } from '../../shared/inventory/store';
import { IsNull, Not } from 'typeorm';
import { randomUUID } from 'node:crypto';
import { PreparedInsert } from '../../shared/database/prepared-insert';
import { PreparedRead } from '../../shared/database/prepared-read';
import { Stack, startStack } from '../support/stack';

/**
 * shared/database/prepared-read.ts and prepared-insert.ts: the polling paths' reads
 * (GET /admin/jobs/{id}, GET /admin/instances/{id}) and the rows a create writes send SQL made
 * once instead of building it per call. What they read and write must be what TypeORM's own
 * find and insert read and write, value transformers included.
 */
describe('PreparedRead (SQL made once for the polling paths)', function () {
  this.timeout(60_000);
  let stack: Stack;
  let instanceId: string;
  let jobId: string;

  before(async () => {
    stack = await startStack({ worker: false });
    const created = await stack.request('POST', '/admin/instances', {
      body: {
        instanceName: `Prepared ${stack.id}`,
        databaseName: stack.db('prepared'),
        odsInstanceContexts: [{ contextKey: 'schoolYearFromRoute', contextValue: '2026' }],
      },
    });
    expect(created.status, JSON.stringify(created.body)).to.equal(201);
    instanceId = created.body.id;
    jobId = created.body.job.id;
    // Columns with transformers and nulls, as a worker leaves them.
    await stack.dataSource
      .getRepository(JobEntity)
      .update({ id: jobId }, { warnings: ['first warning', 'second'], error: 'it failed', startedAt: new Date() });
  });
  after(async () => stack?.stop());

  const jobOfTenant = () =>
    new PreparedRead(stack.dataSource, JobEntity, 'j', ['id', 'tenant'], (qb) =>
      qb.innerJoin(InstanceEntity, 'i', 'i.id = j.instance_id AND i.tenant = :tenant').where('j.id = :id'),
    );

  it('reads a job exactly as TypeORM finds it, warnings and dates included', async () => {
    const expected = await stack.dataSource.getRepository(JobEntity).findOneByOrFail({ id: jobId });
    const read = await jobOfTenant().one({ id: jobId, tenant: '' });
    expect(read).to.be.instanceOf(JobEntity);
    expect(read).to.deep.equal(expected);
    expect(read!.warnings).to.deep.equal(['first warning', 'second']);
  });

  it('reads an instance exactly as TypeORM finds it, its JSON columns included', async () => {
    const expected = await stack.dataSource.getRepository(InstanceEntity).findOneByOrFail({ id: instanceId });
    const read = await new PreparedRead(stack.dataSource, InstanceEntity, 'i', ['id', 'tenant'], (qb) =>
      qb.where('i.id = :id').andWhere('i.tenant = :tenant'),
    ).one({ id: instanceId, tenant: '' });
    expect(read).to.deep.equal(expected);
    expect(read!.contexts).to.deep.equal([{ contextKey: 'schoolYearFromRoute', contextValue: '2026' }]);
  });

  it('finds nothing through another tenant, and the same reader still finds the job after (the statement is reused)', async () => {
    const reader = jobOfTenant();
    expect(await reader.one({ id: jobId, tenant: 'elsewhere' })).to.equal(null);
    for (let i = 0; i < 3; i++) expect((await reader.one({ id: jobId, tenant: '' }))?.id).to.equal(jobId);
  });

  it('refuses a query whose parameters it was not told of', async () => {
    const reader = new PreparedRead(stack.dataSource, JobEntity, 'j', ['id'], (qb) =>
      qb.where('j.id = :id').andWhere('j.status = :status', { status: 'queued' }),
    );
    let error: unknown;
    await reader.one({ id: jobId }).catch((err: unknown) => (error = err));
    expect(String(error)).to.match(/not one of id/);
  });

  it("reads the inventory's facts run as TypeORM's findOne did: the successful run that finished last", async () => {
    const store = new InventoryStore(stack.dataSource);
    expect(await store.factsRun(), 'no run yet').to.equal(null);
    const runs = stack.dataSource.getRepository(InventoryRunEntity);
    const at = (s: number) => new Date(Date.UTC(2026, 10, 26, 9, 0, s));
    const run = (s: number, finished: number | null, error: string | null) =>
      Object.assign(new InventoryRunEntity(), {
        id: randomUUID(),
        startedAt: at(s),
        finishedAt: finished === null ? null : at(finished),
        workerId: 'worker-a',
        databaseCount: finished === null ? null : 12,
        error,
      });
    const older = run(0, 5, null);
    const newest = run(10, 20, null);
    await runs.insert([older, newest, run(15, 30, 'the survey failed'), run(40, null, null)]);
    const expected = await runs.findOne({
      where: { finishedAt: Not(IsNull()), error: IsNull() },
      order: { finishedAt: 'DESC' },
    });
    expect(expected?.id).to.equal(newest.id);
    expect(await store.factsRun()).to.deep.equal(expected);
  });

  it('writes a job row exactly as TypeORM inserts it, an unset nullable column as null', async () => {
    const repo = stack.dataSource.getRepository(JobEntity);
    const template = await repo.findOneByOrFail({ id: jobId });
    const row = (id: string): JobEntity =>
      Object.assign(new JobEntity(), { ...template, id, warnings: undefined, error: null, status: 'failed' });
    const [byTypeorm, byPrepared] = [randomUUID(), randomUUID()];
    await stack.dataSource.manager.insert(JobEntity, row(byTypeorm));
    await stack.dataSource.transaction((m) =>
      new PreparedInsert(stack.dataSource, JobEntity).insert(m, row(byPrepared)),
    );
    const [a, b] = await Promise.all([
      repo.findOneByOrFail({ id: byTypeorm }),
      repo.findOneByOrFail({ id: byPrepared }),
    ]);
    expect({ ...b, id: byTypeorm }).to.deep.equal(a);
    const raw = await stack.dataSource.query<{ warnings: string | null }[]>('SELECT warnings FROM jobs WHERE id = $1', [
      byPrepared,
    ]);
    expect(raw[0]!.warnings).to.equal(null);
  });

  it('writes an instance with its JSON columns as TypeORM does, and refuses a row missing a required value', async () => {
    const repo = stack.dataSource.getRepository(InstanceEntity);
    const template = await repo.findOneByOrFail({ id: instanceId });
    const row = (id: string, n: string): InstanceEntity =>
      Object.assign(new InstanceEntity(), {
        ...template,
        id,
        instanceName: `Prepared ${stack.id} ${n}`,
        instanceNameKey: `prepared ${stack.id} ${n}`,
        databaseName: stack.db(`p${n}`),
        contextSetKey: null,
        status: 'CreateFailed',
      });
    const [byTypeorm, byPrepared] = [randomUUID(), randomUUID()];
    await stack.dataSource.manager.insert(InstanceEntity, row(byTypeorm, 'a'));
    const insert = new PreparedInsert(stack.dataSource, InstanceEntity);
    await stack.dataSource.transaction((m) => insert.insert(m, row(byPrepared, 'b')));
    const [a, b] = await Promise.all([
      repo.findOneByOrFail({ id: byTypeorm }),
      repo.findOneByOrFail({ id: byPrepared }),
    ]);
    expect({
      ...b,
      id: byTypeorm,
      instanceName: a.instanceName,
      instanceNameKey: a.instanceNameKey,
      databaseName: a.databaseName,
    }).to.deep.equal(a);
    expect(b.contexts).to.deep.equal(template.contexts);

    let error: unknown;
    const incomplete = Object.assign(row(randomUUID(), 'c'), { createdBy: undefined });
    await stack.dataSource.transaction((m) => insert.insert(m, incomplete)).catch((err: unknown) => (error = err));
    expect(String(error)).to.match(/InstanceEntity.createdBy has no value/);
  });
});
