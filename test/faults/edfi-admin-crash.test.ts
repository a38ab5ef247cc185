import { expect } from 'chai';
import { InstanceEntity, JobEntity } from '../../shared/database/entities';
import { expectServerMatchesRecords } from '../support/consistency';
import { expectEdFiAdminMatchesRecords, requestCreate, TestEdFiAdmin } from '../support/edfi-admin';
import { databaseExists } from '../support/ods-server';
import { WorkerFleet } from '../support/processes';
import { Stack, startStack } from '../support/stack';

/*
 * A worker killed with SIGKILL at each step of the EdFi_Admin work (before its transaction,
 * inside it before commit, after commit); a new worker takes over. Each ends with exactly one
 * OdsInstances row for a live instance (none after a delete) and no stranded database.
 */
describe('a worker killed during EdFi_Admin registration (SIGKILL)', function () {
  this.timeout(180_000);
  let stack: Stack;
  let edfi: TestEdFiAdmin;
  const fleet = new WorkerFleet(() => stack.env);
  const pausingAt = (step: string) => fleet.spawn({ ODSIM_FAULT_PAUSE_AT: step, ODSIM_FAULT_PAUSE_MS: '120000' });
  const contexts = (year: number) => [{ contextKey: 'schoolYearFromRoute', contextValue: String(year) }];

  before(async () => {
    edfi = await TestEdFiAdmin.create();
    await edfi.addApiClient('crash-client');
    stack = await startStack({
      worker: false,
      env: { JOB_LOCK_DURATION_MS: '2000', STALLED_INTERVAL_MS: '1000', RECONCILE_INTERVAL_MS: '1000', ...edfi.env() },
    });
  });
  afterEach(async () => fleet.killAll());
  after(async () => {
    await stack.stop();
    await edfi.drop();
  });

  async function rowsNaming(databaseName: string) {
    return (await edfi.odsInstances()).filter((r) => r.databaseName === databaseName);
  }

  async function createdInstance(suffix: string, year: number) {
    const requested = await requestCreate(stack, suffix, { contexts: contexts(year), apiClientKeys: ['crash-client'] });
    const w = fleet.spawn();
    await stack.waitForStatus(requested.id, 'Created');
    await w.kill('SIGTERM');
    return requested;
  }

  let year = 2040;
  for (const step of ['register.before', 'register.written', 'register.committed']) {
    it(`finishes a create after a kill at ${step}, with exactly one row`, async () => {
      const requested = await requestCreate(stack, `c_${step.split('.')[1]}`, {
        contexts: contexts(++year),
        apiClientKeys: ['crash-client'],
      });
      const victim = pausingAt(step);
      await victim.waitForEvent('fault.paused', (e) => e.step === step);
      await victim.kill('SIGKILL');
      fleet.spawn();
      const done = await stack.waitForStatus(requested.id, 'Created');
      expect(done.lastError).to.equal(null);
      const rows = await rowsNaming(requested.databaseName);
      expect(rows, 'OdsInstances rows').to.have.length(1);
      expect(await edfi.contextsOf(rows[0]!.id)).to.deep.equal(contexts(year));
      expect(await edfi.clientKeysOf(rows[0]!.id)).to.deep.equal(['crash-client']);
      const job = await stack.dataSource.getRepository(JobEntity).findOneByOrFail({ id: requested.jobId });
      expect(job).to.include({ status: 'succeeded', attempts: 2 });
      await expectEdFiAdminMatchesRecords(stack, edfi);
      await expectServerMatchesRecords(stack);
    });
  }

  for (const step of ['repoint.before', 'repoint.written', 'repoint.committed']) {
    it(`finishes a rename after a kill at ${step}; the row names the new database`, async () => {
      const requested = await createdInstance(`r_${step.split('.')[1]}`, ++year);
      const to = `${requested.databaseName}_to`;
      const victim = pausingAt(step);
      await stack.request('PUT', `/admin/instances/${requested.id}`, { body: { databaseName: to } });
      await victim.waitForEvent('fault.paused', (e) => e.step === step);
      await victim.kill('SIGKILL');
      fleet.spawn();
      const done = await stack.waitForStatus(requested.id, 'Created');
      expect(done.databaseName).to.equal(to);
      expect(await rowsNaming(requested.databaseName)).to.have.length(0);
      expect(await rowsNaming(to)).to.have.length(1);
      await expectEdFiAdminMatchesRecords(stack, edfi);
      await expectServerMatchesRecords(stack);
    });
  }

  for (const step of ['unregister.before', 'unregister.written', 'unregister.committed']) {
    it(`finishes a forced delete after a kill at ${step}: no row, no links, no database`, async () => {
      const requested = await createdInstance(`d_${step.split('.')[1]}`, ++year);
      const record = await stack.dataSource.getRepository(InstanceEntity).findOneByOrFail({ id: requested.id });
      const r = await stack.request('DELETE', `/admin/instances/${requested.id}?force=true`);
      expect(r.status).to.equal(200);
      const victim = pausingAt(step);
      await victim.waitForEvent('fault.paused', (e) => e.step === step);
      await victim.kill('SIGKILL');
      fleet.spawn();
      await stack.waitForStatus(requested.id, 'Deleted');
      expect(await rowsNaming(requested.databaseName)).to.have.length(0);
      expect(await edfi.clientKeysOf(record.odsInstanceId!)).to.deep.equal([]);
      expect(await edfi.contextsOf(record.odsInstanceId!)).to.deep.equal([]);
      expect(await databaseExists(requested.databaseName)).to.equal(false);
      await expectEdFiAdminMatchesRecords(stack, edfi);
      await expectServerMatchesRecords(stack);
    });
  }
});
