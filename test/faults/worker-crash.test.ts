import { expect } from 'chai';
import { JobEntity } from '../../shared/database/entities';
import { stagingDatabaseName } from '../../shared/database-names';
import { expectServerMatchesRecords } from '../support/consistency';
import { connectTo, databaseExists, ownerOf, withServer } from '../support/ods-server';
import { WorkerFleet } from '../support/processes';
import { Stack, startStack } from '../support/stack';
import { waitFor } from '../support/wait';

/*
 * A worker killed with SIGKILL at each phase of each operation; a new worker takes over.
 * Fast lock settings make BullMQ notice the dead worker's job within about 3 s here
 * (lockDuration + stalledInterval); by default that bound is 10 s + 5 s (dead-worker.test.ts).
 */
describe('a worker killed at any phase (SIGKILL)', function () {
  this.timeout(180_000);
  let stack: Stack;
  const fleet = new WorkerFleet(() => stack.env);
  const spawnWorker = (env: Record<string, string> = {}) => fleet.spawn(env);
  const pausingAt = (step: string) => spawnWorker({ ODSIM_FAULT_PAUSE_AT: step, ODSIM_FAULT_PAUSE_MS: '120000' });

  before(async () => {
    stack = await startStack({
      worker: false,
      env: { JOB_LOCK_DURATION_MS: '2000', STALLED_INTERVAL_MS: '1000', RECONCILE_INTERVAL_MS: '1000' },
    });
  });
  afterEach(async () => {
    await fleet.killAll();
  });
  after(async () => stack.stop());

  async function createAndWait(suffix: string) {
    const w = spawnWorker();
    const instance = await stack.createInstance(suffix);
    await w.kill('SIGTERM');
    return instance;
  }

  for (const step of ['create.cloning', 'create.cloned', 'create.marked', 'create.renamed']) {
    it(`finishes a create after a kill at ${step}, with no orphan and no false Created`, async () => {
      const victim = pausingAt(step);
      const name = stack.db(step.replace('.', '_'));
      const r = await stack.request('POST', '/admin/instances', {
        body: { instanceName: `Crash ${step} ${stack.id}`, databaseName: name },
      });
      await victim.waitForEvent('fault.paused', (e) => e.step === step);
      await victim.kill('SIGKILL');
      expect((await stack.request('GET', `/admin/instances/${r.body.id}`)).body.status).to.equal('CreateInProgress');
      spawnWorker();
      const done = await stack.waitForStatus(r.body.id, 'Created');
      expect(done.lastError).to.equal(null);
      expect(await ownerOf(name)).to.equal(r.body.id);
      const job = await stack.dataSource.getRepository(JobEntity).findOneByOrFail({ id: r.body.job.id });
      expect(job).to.include({ status: 'succeeded', attempts: 2 });
      await expectServerMatchesRecords(stack);
    });
  }

  it('finishes a create after a kill in the middle of CREATE DATABASE', async () => {
    const victim = spawnWorker();
    const name = stack.db('mid_clone');
    const r = await stack.request('POST', '/admin/instances', {
      body: { instanceName: `Mid clone ${stack.id}`, databaseName: name },
    });
    const staging = stagingDatabaseName(r.body.job.id);
    await waitFor(
      () =>
        withServer(
          async (c) =>
            (
              await c.query(`SELECT 1 FROM pg_stat_activity WHERE state = 'active' AND query LIKE $1`, [
                `CREATE DATABASE "${staging}"%`,
              ])
            ).rowCount! > 0,
        ),
      'the clone to be running',
      30_000,
      5,
    );
    await victim.kill('SIGKILL');
    spawnWorker();
    await stack.waitForStatus(r.body.id, 'Created');
    expect(await ownerOf(name)).to.equal(r.body.id);
    await expectServerMatchesRecords(stack);
  });

  for (const step of ['rename.closed', 'rename.renamed']) {
    it(`finishes a rename after a kill at ${step}; the database accepts connections again`, async () => {
      const instance = await createAndWait(`rn_${step.split('.')[1]}`);
      const victim = pausingAt(step);
      const to = `${instance.databaseName}_to`;
      await stack.request('PUT', `/admin/instances/${instance.id}`, { body: { databaseName: to } });
      await victim.waitForEvent('fault.paused', (e) => e.step === step);
      await victim.kill('SIGKILL');
      spawnWorker();
      const done = await stack.waitForStatus(instance.id, 'Created');
      expect(done.databaseName).to.equal(to);
      expect(await databaseExists(instance.databaseName)).to.equal(false);
      const session = await connectTo(to);
      await session.end();
      await expectServerMatchesRecords(stack);
    });
  }

  it('finishes a delete after a kill just before the drop', async () => {
    const instance = await createAndWait('del_before');
    const victim = pausingAt('drop.before');
    await stack.request('DELETE', `/admin/instances/${instance.id}`);
    await victim.waitForEvent('fault.paused', (e) => e.step === 'drop.before');
    await victim.kill('SIGKILL');
    spawnWorker();
    await stack.waitForStatus(instance.id, 'Deleted');
    expect(await databaseExists(instance.databaseName)).to.equal(false);
    await expectServerMatchesRecords(stack);
  });

  it('clears a database that an interrupted drop left invalid (datconnlimit = -2)', async () => {
    const instance = await createAndWait('invalid');
    // What PostgreSQL leaves when DROP DATABASE is interrupted after its first, non-transactional step.
    await withServer((c) =>
      c.query(`UPDATE pg_database SET datconnlimit = -2 WHERE datname = $1`, [instance.databaseName]),
    );
    spawnWorker();
    await stack.request('DELETE', `/admin/instances/${instance.id}`);
    await stack.waitForStatus(instance.id, 'Deleted');
    expect(await databaseExists(instance.databaseName)).to.equal(false);
    await expectServerMatchesRecords(stack);
  });

  it('never hands a long operation to a second worker while the first is alive', async () => {
    // Each worker pauses 6 s inside the create (three lock durations); the lock is renewed meanwhile.
    const slow = [1, 2].map(() => spawnWorker({ ODSIM_FAULT_PAUSE_AT: 'create.cloned', ODSIM_FAULT_PAUSE_MS: '6000' }));
    await Promise.all(slow.map((w) => w.waitForEvent('worker.started')));
    const r = await stack.request('POST', '/admin/instances', {
      body: { instanceName: `Slow ${stack.id}`, databaseName: stack.db('slow') },
    });
    await stack.waitForStatus(r.body.id, 'Created', 60_000);
    const starts = slow.flatMap((w) => w.events('job.started')).filter((e) => e.jobId === r.body.job.id);
    expect(starts).to.have.length(1);
    const job = await stack.dataSource.getRepository(JobEntity).findOneByOrFail({ id: r.body.job.id });
    expect(job.attempts).to.equal(1);
    await expectServerMatchesRecords(stack);
  });
});
