import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { AuditEventEntity, InstanceEntity, JobEntity } from '../../shared/database/entities';
import { ownershipMarker } from '../../worker/engines/engine';
import { expectServerMatchesRecords } from '../support/consistency';
import { expectEdFiAdminMatchesRecords, ODS_CONNECTION_TEMPLATE, TestEdFiAdmin } from '../support/edfi-admin';
import { connectTo, databaseExists, dropDatabases, ownerOf, withServer } from '../support/ods-server';
import { WorkerFleet } from '../support/processes';
import { EDFI_TEMPLATE } from '../support/settings';
import { type HttpResult, type Stack, startStack } from '../support/stack';

function expectProblem(r: HttpResult, status: number, detail?: RegExp): void {
  expect(r.status, JSON.stringify(r.body)).to.equal(status);
  expect(r.headers.get('content-type')).to.match(/^application\/problem\+json/);
  if (detail) expect(JSON.stringify(r.body)).to.match(detail);
}

/*
 * Adopting an existing database and releasing an instance's database (docs/adopt-release.md),
 * end to end on the real PostgreSQL and Redis, with registration in EdFi_Admin on.
 */
describe('adopt an existing database, release an instance', function () {
  this.timeout(120_000);
  let stack: Stack;
  let edfi: TestEdFiAdmin;
  const fleet = new WorkerFleet(() => stack.env);
  const unmanaged: string[] = [];

  before(async () => {
    edfi = await TestEdFiAdmin.create();
    await edfi.addApiClient('adopt-key');
    // Fast lock settings: a killed worker's job is taken over within about 3 s.
    stack = await startStack({
      worker: false,
      env: {
        ...edfi.env(),
        JOB_LOCK_DURATION_MS: '2000',
        STALLED_INTERVAL_MS: '1000',
        RECONCILE_INTERVAL_MS: '1000',
      },
    });
    await stack.startWorker();
  });
  after(async () => {
    await fleet.killAll();
    await stack?.stop();
    await dropDatabases(unmanaged);
    await edfi?.drop();
  });

  /** A database made by hand (not by the manager), holding one row of data. */
  async function existingDatabase(suffix: string, marker?: string): Promise<string> {
    const name = stack.db(suffix);
    await withServer(async (c) => {
      await c.query(`CREATE DATABASE ${c.escapeIdentifier(name)}`);
      if (marker) await c.query(`COMMENT ON DATABASE ${c.escapeIdentifier(name)} IS '${marker}'`);
    });
    const session = await connectTo(name);
    try {
      await session.query(`CREATE TABLE students (id int PRIMARY KEY, name text)`);
      await session.query(`INSERT INTO students VALUES (1, 'Ada')`);
    } finally {
      await session.end();
    }
    return name;
  }

  async function dataOf(name: string): Promise<string[]> {
    const session = await connectTo(name);
    try {
      return (await session.query<{ name: string }>('SELECT name FROM students ORDER BY id')).rows.map((r) => r.name);
    } finally {
      await session.end();
    }
  }

  const adopt = (databaseName: string, suffix: string, extra: Record<string, unknown> = {}, query = '') =>
    stack.request('POST', `/admin/instances${query}`, {
      body: { instanceName: `Adopted ${stack.id} ${suffix}`, databaseName, adopt: true, ...extra },
    });

  /** An instance adopted from a fresh database (fast: nothing is copied), once Created. */
  async function adopted(suffix: string): Promise<{ id: string; databaseName: string }> {
    const name = await existingDatabase(suffix);
    const r = await adopt(name, suffix);
    if (r.status !== 201) throw new Error(`adopt failed: ${r.status} ${JSON.stringify(r.body)}`);
    await stack.waitForStatus(r.body.id, 'Created');
    return { id: r.body.id, databaseName: name };
  }

  const instanceCount = () => stack.dataSource.getRepository(InstanceEntity).count();
  const rowsFor = async (databaseName: string) =>
    (await edfi.odsInstances()).filter((r) => r.databaseName === databaseName);

  it('adopts an existing unmarked database without copying: Created, marked, data intact, registered once', async () => {
    const name = await existingDatabase('adopt_data');
    const r = await adopt(name, 'data', { apiClientKeys: ['adopt-key'] });
    expect(r.status, JSON.stringify(r.body)).to.equal(201);
    expect(r.body).to.include({ adopted: true, status: 'PendingCreate', databaseName: name });
    expect(r.body.job.type).to.equal('create');
    const done = await stack.waitForStatus(r.body.id, 'Created');
    expect(done.adopted).to.equal(true);
    expect(done._links).to.include.keys('delete', 'release');
    expect(await ownerOf(name)).to.equal(r.body.id);
    expect(await dataOf(name)).to.deep.equal(['Ada']);
    const job = await stack.request('GET', `/admin/jobs/${r.body.job.id}`);
    expect(job.body).to.include({ adopt: true, status: 'succeeded' });
    const rows = await rowsFor(name);
    expect(rows).to.have.lengthOf(1);
    expect(done.odsInstanceId).to.equal(rows[0]!.id);
    expect(await edfi.clientKeysOf(rows[0]!.id)).to.deep.equal(['adopt-key']);
    await expectServerMatchesRecords(stack);
    await expectEdFiAdminMatchesRecords(stack, edfi);
  });

  it('refuses with 400, writing nothing, an adopt without databaseName, of a reserved, template, system or staging name, or in a bulk create', async () => {
    const before = await instanceCount();
    expectProblem(
      await stack.request('POST', '/admin/instances', {
        body: { instanceName: `No name ${stack.id}`, adopt: true },
      }),
      400,
      /databaseName/,
    );
    for (const name of [EDFI_TEMPLATE, 'postgres', 'template1', 'EdFi_Admin', 'odsim_staging_0123abcd'])
      expectProblem(await adopt(name, 'refused'), 400, /databaseName/);
    expectProblem(
      await stack.request('POST', '/admin/instances', {
        body: { instanceName: `Bad ${stack.id}`, databaseName: stack.db('x'), adopt: 'yes' },
      }),
      400,
      /adopt/,
    );
    expectProblem(
      await stack.request('POST', '/admin/instances/bulk', {
        body: { instances: [{ instanceName: `Bulk ${stack.id}`, databaseName: stack.db('bulk_adopt'), adopt: true }] },
      }),
      400,
      /adopt is for single creates/,
    );
    expect(await instanceCount()).to.equal(before);
  });

  it("fails an adopt of a missing database or of one carrying another instance's marker (CreateFailed), changing nothing on the server", async () => {
    const missing = stack.db('adopt_missing');
    const r1 = await adopt(missing, 'missing');
    const failed1 = await stack.waitForStatus(r1.body.id, 'CreateFailed');
    expect(failed1.lastError).to.match(/does not exist; there is nothing to adopt/);
    expect(await databaseExists(missing)).to.equal(false);
    expect(await rowsFor(missing)).to.deep.equal([]);

    const stranger = randomUUID();
    const foreign = await existingDatabase('adopt_foreign', ownershipMarker(stranger));
    unmanaged.push(foreign);
    const r2 = await adopt(foreign, 'foreign');
    const failed2 = await stack.waitForStatus(r2.body.id, 'CreateFailed');
    expect(failed2.lastError).to.match(
      new RegExp(`refusing to adopt database "${foreign}": it belongs to instance ${stranger}`),
    );
    expect(await ownerOf(foreign)).to.equal(stranger);
    expect(await dataOf(foreign)).to.deep.equal(['Ada']);
    expect(await rowsFor(foreign)).to.deep.equal([]);

    // Deleting the failed adopt releases it: the foreign database is left alone, not dropped.
    const removed = await stack.request('DELETE', `/admin/instances/${r2.body.id}`);
    expect(removed.body.job.type).to.equal('release');
    await stack.waitForStatus(r2.body.id, 'Released');
    expect(await ownerOf(foreign)).to.equal(stranger);
    expect(await dataOf(foreign)).to.deep.equal(['Ada']);
    await dropDatabases([foreign]);
    await expectServerMatchesRecords(stack);
  });

  it('fails an adopt of a database already registered in EdFi_Admin by hand: no second row, no marker left', async () => {
    const name = await existingDatabase('adopt_registered');
    const handRow = await edfi.addOdsInstance(
      `By hand ${stack.id}`,
      null,
      ODS_CONNECTION_TEMPLATE.replace('{databaseName}', name),
    );
    try {
      const r = await adopt(name, 'registered');
      const failed = await stack.waitForStatus(r.body.id, 'CreateFailed');
      expect(failed.lastError).to.match(new RegExp(`already registered in .* as OdsInstanceId ${handRow}`));
      expect((await rowsFor(name)).map((row) => row.id)).to.deep.equal([handRow]);
      expect(await ownerOf(name)).to.equal(null);
      expect(await dataOf(name)).to.deep.equal(['Ada']);
      await stack.request('DELETE', `/admin/instances/${r.body.id}`);
      await stack.waitForStatus(r.body.id, 'Released');
      expect(await databaseExists(name)).to.equal(true);
    } finally {
      await edfi.query('DELETE FROM dbo.odsinstances WHERE odsinstanceid = $1', [handRow]);
    }
    await expectServerMatchesRecords(stack);
  });

  it('releases an adopted instance on DELETE: Released, database kept without marker, unregistered, its names free again', async () => {
    const name = await existingDatabase('adopt_cycle');
    const first = await adopt(name, 'cycle');
    await stack.waitForStatus(first.body.id, 'Created');
    expect(await rowsFor(name)).to.have.lengthOf(1);

    const deleted = await stack.request('DELETE', `/admin/instances/${first.body.id}`);
    expect(deleted.status, JSON.stringify(deleted.body)).to.equal(200);
    expect(deleted.body.status).to.equal('PendingRelease');
    expect(deleted.body.job.type).to.equal('release');
    const released = await stack.waitForStatus(first.body.id, 'Released');
    expect(released.deletedAt).to.be.a('string');
    expect(released.odsInstanceId).to.equal(null);
    expect(released._links).not.to.have.any.keys('delete', 'release', 'rename', 'retry', 'protect');
    expect(await databaseExists(name)).to.equal(true);
    expect(await ownerOf(name)).to.equal(null);
    expect(await dataOf(name)).to.deep.equal(['Ada']);
    expect(await rowsFor(name)).to.deep.equal([]);
    const listed = (await stack.request('GET', '/admin/instances')).body.map((i: { id: string }) => i.id);
    expect(listed).not.to.include(first.body.id);
    const history = (await stack.request('GET', '/admin/instances?includeDeleted=true')).body;
    expect(history.map((i: { id: string }) => i.id)).to.include(first.body.id);
    expectProblem(await stack.request('POST', `/admin/instances/${first.body.id}/release`), 409, /has been released/);
    await expectServerMatchesRecords(stack);

    // The same instanceName and databaseName are free: adopt again, then delete with dropDatabase=true.
    const again = await adopt(name, 'cycle');
    expect(again.status, JSON.stringify(again.body)).to.equal(201);
    await stack.waitForStatus(again.body.id, 'Created');
    expect(await ownerOf(name)).to.equal(again.body.id);
    const dropped = await stack.request('DELETE', `/admin/instances/${again.body.id}?dropDatabase=true`);
    expect(dropped.body.job.type).to.equal('delete');
    await stack.waitForStatus(again.body.id, 'Deleted');
    expect(await databaseExists(name)).to.equal(false);
    await expectServerMatchesRecords(stack);
    await expectEdFiAdminMatchesRecords(stack, edfi);
  });

  it('releases a copied instance on POST …/release or DELETE ?dropDatabase=false, keeping its database unmarked, audited', async () => {
    const copied = await stack.createInstance('rel_copied');
    const r = await stack.request('POST', `/admin/instances/${copied.id}/release`);
    expect(r.status, JSON.stringify(r.body)).to.equal(200);
    expect(r.body).to.include({ status: 'PendingRelease' });
    expect(r.body.job.type).to.equal('release');
    await stack.waitForStatus(copied.id, 'Released');
    expect(await databaseExists(copied.databaseName)).to.equal(true);
    expect(await ownerOf(copied.databaseName)).to.equal(null);
    const audit = await stack.dataSource
      .getRepository(AuditEventEntity)
      .find({ where: { instanceId: copied.id }, order: { occurredAt: 'ASC' } });
    expect(audit.filter((a) => a.action === 'instance.release').map((a) => a.outcome)).to.deep.equal([
      'accepted',
      'succeeded',
    ]);

    const other = await stack.createInstance('rel_keep');
    const kept = await stack.request('DELETE', `/admin/instances/${other.id}?dropDatabase=false`);
    expect(kept.body.job.type).to.equal('release');
    await stack.waitForStatus(other.id, 'Released');
    expect(await ownerOf(other.databaseName)).to.equal(null);
    unmanaged.push(copied.databaseName, other.databaseName);
    await expectServerMatchesRecords(stack);
  });

  it('refuses release of a protected instance with 409 and changes nothing', async () => {
    const instance = await adopted('rel_protected');
    await stack.request('POST', `/admin/instances/${instance.id}/protect`);
    const jobsBefore = (await stack.jobsRows()).length;
    expectProblem(await stack.request('POST', `/admin/instances/${instance.id}/release`), 409, /cannot be released/);
    expectProblem(
      await stack.request('DELETE', `/admin/instances/${instance.id}?dropDatabase=false`),
      409,
      /cannot be released/,
    );
    expect((await stack.jobsRows()).length).to.equal(jobsBefore);
    expect((await stack.request('GET', `/admin/instances/${instance.id}`)).body.status).to.equal('Created');
    expect(await ownerOf(instance.databaseName)).to.equal(instance.id);
    await stack.request('POST', `/admin/instances/${instance.id}/unprotect`);
  });

  it('fails a release while EdFi_Admin client links remain (ReleaseFailed, marker kept); retry and force finish it', async () => {
    const name = await existingDatabase('rel_links');
    const r = await adopt(name, 'links', { apiClientKeys: ['adopt-key'] });
    await stack.waitForStatus(r.body.id, 'Created');
    await stack.request('POST', `/admin/instances/${r.body.id}/release`);
    const failed = await stack.waitForStatus(r.body.id, 'ReleaseFailed');
    expect(failed.lastError).to.match(/refusing to release: 1 API client link/);
    expect(failed._links).to.include.keys('retry', 'release', 'delete');
    expect(await ownerOf(name)).to.equal(r.body.id);
    expect(await rowsFor(name)).to.have.lengthOf(1);

    // Retry runs the release again (refused again, the links are still there).
    const retried = await stack.request('POST', `/admin/instances/${r.body.id}/retry`);
    expect(retried.status, JSON.stringify(retried.body)).to.equal(200);
    expect(retried.body.job.type).to.equal('release');
    await stack.waitForStatus(r.body.id, 'ReleaseFailed');

    const forced = await stack.request('POST', `/admin/instances/${r.body.id}/release?force=true`);
    expect(forced.status, JSON.stringify(forced.body)).to.equal(200);
    await stack.waitForStatus(r.body.id, 'Released');
    expect(await ownerOf(name)).to.equal(null);
    expect(await rowsFor(name)).to.deep.equal([]);
    const job = await stack.dataSource.getRepository(JobEntity).findOneByOrFail({ id: forced.body.job.id });
    expect(job.warnings.join(' ')).to.match(/removed 1 API client link/);
    unmanaged.push(name);
    await expectServerMatchesRecords(stack);
    await expectEdFiAdminMatchesRecords(stack, edfi);
  });

  it('plans an adopt and a release (?dryRun=true) with their marker statements, writing nothing', async () => {
    const name = await existingDatabase('adopt_plan');
    const before = await instanceCount();
    const plan = await adopt(name, 'plan', {}, '?dryRun=true');
    expect(plan.status, JSON.stringify(plan.body)).to.equal(200);
    expect(plan.body).to.include({ dryRun: true, operation: 'adopt' });
    expect(plan.body.statements.map((s: { sql: string }) => s.sql).join('\n')).to.include(
      `COMMENT ON DATABASE "${name}" IS '`,
    );
    expect(await instanceCount()).to.equal(before);
    expect(await ownerOf(name)).to.equal(null);

    const instance = await adopted('rel_plan');
    const release = await stack.request('POST', `/admin/instances/${instance.id}/release?dryRun=true`);
    expect(release.status, JSON.stringify(release.body)).to.equal(200);
    expect(release.body).to.include({ dryRun: true, operation: 'release' });
    expect(release.body.statements.map((s: { sql: string }) => s.sql)).to.include(
      `COMMENT ON DATABASE "${instance.databaseName}" IS NULL`,
    );
    expect((await stack.request('GET', `/admin/instances/${instance.id}`)).body.status).to.equal('Created');
    expect(await ownerOf(instance.databaseName)).to.equal(instance.id);
    await dropDatabases([name]); // no instance holds it
    await expectServerMatchesRecords(stack);
  });

  describe('a worker killed at each new step (SIGKILL)', () => {
    const toRelease = new Map<string, { id: string; databaseName: string }>();
    before(async () => {
      for (const step of ['release.before-unmark', 'release.unmarked'])
        toRelease.set(step, await adopted(step.replace(/[.-]/g, '_')));
      await stack.stopWorkers();
    });
    afterEach(async () => fleet.killAll());

    const pausingAt = (step: string) => fleet.spawn({ ODSIM_FAULT_PAUSE_AT: step, ODSIM_FAULT_PAUSE_MS: '120000' });

    for (const step of ['adopt.before-mark', 'adopt.marked']) {
      it(`finishes an adopt after a kill at ${step}: Created, marked, registered once`, async () => {
        const victim = pausingAt(step);
        const name = await existingDatabase(step.replace(/[.-]/g, '_'));
        const r = await adopt(name, step);
        await victim.waitForEvent('fault.paused', (e) => e.step === step);
        await victim.kill('SIGKILL');
        fleet.spawn();
        await stack.waitForStatus(r.body.id, 'Created');
        expect(await ownerOf(name)).to.equal(r.body.id);
        expect(await dataOf(name)).to.deep.equal(['Ada']);
        expect(await rowsFor(name)).to.have.lengthOf(1);
        const job = await stack.dataSource.getRepository(JobEntity).findOneByOrFail({ id: r.body.job.id });
        expect(job).to.include({ status: 'succeeded', attempts: 2 });
        await expectServerMatchesRecords(stack);
        await expectEdFiAdminMatchesRecords(stack, edfi);
      });
    }

    for (const step of ['release.before-unmark', 'release.unmarked']) {
      it(`finishes a release after a kill at ${step}: Released, database kept unmarked, unregistered`, async () => {
        const { id, databaseName: name } = toRelease.get(step)!;
        const r = { body: { id } };
        const victim = pausingAt(step);
        await stack.request('POST', `/admin/instances/${r.body.id}/release`);
        await victim.waitForEvent('fault.paused', (e) => e.step === step);
        await victim.kill('SIGKILL');
        expect((await stack.request('GET', `/admin/instances/${r.body.id}`)).body.status).to.equal('ReleaseInProgress');
        fleet.spawn();
        await stack.waitForStatus(r.body.id, 'Released');
        expect(await databaseExists(name)).to.equal(true);
        expect(await ownerOf(name)).to.equal(null);
        expect(await dataOf(name)).to.deep.equal(['Ada']);
        expect(await rowsFor(name)).to.deep.equal([]);
        unmanaged.push(name);
        await expectServerMatchesRecords(stack);
        await expectEdFiAdminMatchesRecords(stack, edfi);
      });
    }
  });
});
