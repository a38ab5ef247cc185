import { expect } from 'chai';
import { InstanceEntity, JobEntity } from '../../shared/database/entities';
import { silentLogger } from '../../shared/logger';
import { EdFiAdminStartupError, Registrations } from '../../worker/edfi-admin/registry';
import { loadRegistrationSettings } from '../../worker/edfi-admin/settings';
import { randomBytes } from 'node:crypto';
import {
  expectEdFiAdminMatchesRecords,
  ODS_CONNECTION_TEMPLATE,
  requestCreate,
  TestEdFiAdmin,
} from '../support/edfi-admin';
import { expectServerMatchesRecords } from '../support/consistency';
import { databaseExists } from '../support/ods-server';
import { WorkerProcess } from '../support/processes';
import { Stack, startStack } from '../support/stack';

const YEAR_2025 = [{ contextKey: 'schoolYearFromRoute', contextValue: '2025' }];

function expectedConnection(databaseName: string): string {
  return ODS_CONNECTION_TEMPLATE.replace('{databaseName}', databaseName);
}

describe('registration in EdFi_Admin (worker)', function () {
  this.timeout(120_000);

  describe('one EdFi_Admin, no tenants', () => {
    let stack: Stack;
    let edfi: TestEdFiAdmin;

    before(async () => {
      edfi = await TestEdFiAdmin.create();
      await edfi.addApiClient('vendor-key-1');
      await edfi.addApiClient('vendor-key-2');
      stack = await startStack({ worker: false, env: edfi.env() });
    });
    afterEach(async () => stack.stopWorkers());
    after(async () => {
      await stack.stop();
      await edfi.drop();
    });

    /** Requests a create (with no worker running, so a test may prepare EdFi_Admin first), then lets a worker run it. */
    async function create(suffix: string, fields: Parameters<typeof requestCreate>[2] = {}, expected = 'Created') {
      await stack.stopWorkers();
      const requested = await requestCreate(stack, suffix, fields);
      await stack.startWorker();
      const instance = await stack.waitForStatus(requested.id, expected);
      return { ...requested, instance };
    }

    async function row(instanceId: string) {
      const record = await stack.dataSource.getRepository(InstanceEntity).findOneByOrFail({ id: instanceId });
      const rows = (await edfi.odsInstances()).filter((r) => r.id === record.odsInstanceId);
      return { record, row: rows[0] };
    }

    /** DELETE (with ?force=true when `force`), then lets a worker run it. */
    async function deleteInstance(id: string, force: boolean, expected: string) {
      await stack.stopWorkers();
      const r = await stack.request('DELETE', `/admin/instances/${id}${force ? '?force=true' : ''}`);
      expect(r.status).to.equal(200);
      expect(r.body.job.id).to.be.a('string');
      await stack.startWorker();
      await stack.waitForStatus(id, expected);
      return stack.dataSource.getRepository(JobEntity).findOneByOrFail({ id: r.body.job.id });
    }

    it('registers a created instance: a row the ODS/API can decrypt, its contexts, its client links', async () => {
      const { id, databaseName, instanceName } = await create('reg', {
        contexts: YEAR_2025,
        instanceType: 'DistrictSpecific',
        apiClientKeys: ['vendor-key-1', 'vendor-key-2'],
      });
      const { record, row: registered } = await row(id);
      expect(registered, 'the OdsInstances row').to.not.equal(undefined);
      expect(registered).to.deep.include({
        name: instanceName,
        instanceType: 'DistrictSpecific',
        connectionString: expectedConnection(databaseName),
      });
      expect(record.odsInstanceId).to.equal(registered!.id);
      expect(await edfi.contextsOf(registered!.id)).to.deep.equal(YEAR_2025);
      expect(await edfi.clientKeysOf(registered!.id)).to.deep.equal(['vendor-key-1', 'vendor-key-2']);
      await expectEdFiAdminMatchesRecords(stack, edfi);
      await expectServerMatchesRecords(stack);
    });

    it('re-points the row at the new database on a rename', async () => {
      const { id, databaseName } = await create('ren', {
        contexts: [{ contextKey: 'schoolYearFromRoute', contextValue: '2026' }],
      });
      const before = await row(id);
      const to = `${databaseName}_to`;
      const r = await stack.request('PUT', `/admin/instances/${id}`, { body: { databaseName: to } });
      expect(r.status).to.equal(200);
      await stack.waitForStatus(id, 'Created');
      const after = await row(id);
      expect(after.row!.id).to.equal(before.row!.id);
      expect(after.row!.connectionString).to.equal(expectedConnection(to));
      expect(await edfi.contextsOf(after.row!.id)).to.deep.equal([
        { contextKey: 'schoolYearFromRoute', contextValue: '2026' },
      ]);
      await expectEdFiAdminMatchesRecords(stack, edfi);
    });

    it('follows a new instance name given with the rename, in the same row', async () => {
      const { id, databaseName } = await create('ren_name');
      const before = await row(id);
      const newName = `Renamed ${stack.id}`;
      const r = await stack.request('PUT', `/admin/instances/${id}`, {
        body: { instanceName: newName, databaseName: `${databaseName}_2` },
      });
      expect(r.status).to.equal(200);
      await stack.waitForStatus(id, 'Created');
      const after = await row(id);
      expect(after.row).to.deep.include({
        id: before.row!.id,
        name: newName,
        connectionString: expectedConnection(`${databaseName}_2`),
      });
    });

    it('carries a new instance name alone into the row, through a rename job that keeps the database', async () => {
      const { id, databaseName } = await create('name_only');
      const before = await row(id);
      const newName = `Only the name ${stack.id}`;
      await stack.startWorker();
      const r = await stack.request('PUT', `/admin/instances/${id}`, { body: { instanceName: newName } });
      expect(r.status).to.equal(200);
      expect(r.body).to.include({ status: 'PendingRename', instanceName: newName, databaseName });
      expect(r.body.job.type).to.equal('rename');
      const done = await stack.waitForStatus(id, 'Created');
      expect(done).to.include({ databaseName, previousDatabaseName: null });
      const after = await row(id);
      expect(after.row).to.deep.include({
        id: before.row!.id,
        name: newName,
        connectionString: expectedConnection(databaseName),
      });
      expect(await databaseExists(databaseName)).to.equal(true);
      await expectServerMatchesRecords(stack);
    });

    it('removes contexts and row on delete, then drops the database', async () => {
      const { id, databaseName } = await create('del', {
        contexts: [{ contextKey: 'schoolYearFromRoute', contextValue: '2027' }],
      });
      const { row: registered } = await row(id);
      await deleteInstance(id, false, 'Deleted');
      expect((await edfi.odsInstances()).map((r) => r.id)).not.to.include(registered!.id);
      expect(await edfi.contextsOf(registered!.id)).to.deep.equal([]);
      expect(await databaseExists(databaseName)).to.equal(false);
      const record = await stack.dataSource.getRepository(InstanceEntity).findOneByOrFail({ id });
      expect(record.odsInstanceId).to.equal(null);
      await expectEdFiAdminMatchesRecords(stack, edfi);
      await expectServerMatchesRecords(stack);
    });

    it('refuses a delete while an API client is linked (nothing removed), and removes all with force', async () => {
      const { id, databaseName } = await create('linked', {
        contexts: [{ contextKey: 'schoolYearFromRoute', contextValue: '2028' }],
        apiClientKeys: ['vendor-key-1'],
      });
      const { row: registered } = await row(id);
      await edfi.addDerivative(registered!.id, 'ReadReplica');

      const refused = await deleteInstance(id, false, 'DeleteFailed');
      expect(refused.status).to.equal('failed');
      expect(refused.error).to.match(/1 API client link\(s\).*and 1 derivative\(s\)/);
      expect(refused.error).to.include(`DELETE /admin/instances/${id}?force=true`);
      expect(refused.attempts, 'a permanent refusal is not retried').to.equal(1);
      const failed = await stack.request('GET', `/admin/instances/${id}`);
      expect(failed.body.status).to.equal('DeleteFailed');
      expect(await edfi.clientKeysOf(registered!.id)).to.deep.equal(['vendor-key-1']);
      expect(await edfi.contextsOf(registered!.id)).to.have.length(1);
      expect((await edfi.odsInstances()).map((r) => r.id)).to.include(registered!.id);
      expect(await databaseExists(databaseName)).to.equal(true);

      const forced = await deleteInstance(id, true, 'Deleted');
      expect(forced.warnings.join('\n')).to.match(
        /forced delete removed 1 API client link\(s\).*vendor-key-1.*ReadReplica/,
      );
      expect((await edfi.odsInstances()).map((r) => r.id)).not.to.include(registered!.id);
      expect(await edfi.clientKeysOf(registered!.id)).to.deep.equal([]);
      expect(await edfi.count('dbo.odsinstancederivatives')).to.equal(0);
      expect(await edfi.count('dbo.apiclients'), 'the clients themselves stay').to.equal(2);
      expect(await databaseExists(databaseName)).to.equal(false);
      await expectServerMatchesRecords(stack);
    });

    it('fails a create for good on an unknown client key, naming it, writing nothing and making no database', async () => {
      const rowsBefore = await edfi.count('dbo.odsinstances');
      const { id, jobId, databaseName } = await create(
        'unknown_key',
        { apiClientKeys: ['vendor-key-1', 'no-such-key'] },
        'CreateFailed',
      );
      const job = await stack.dataSource.getRepository(JobEntity).findOneByOrFail({ id: jobId });
      expect(job.error).to.include('"no-such-key"');
      expect(job.error).not.to.include('"vendor-key-1"');
      expect(job.attempts).to.equal(1);
      expect(await edfi.count('dbo.odsinstances')).to.equal(rowsBefore);
      expect(await databaseExists(databaseName)).to.equal(false);
      const record = await stack.dataSource.getRepository(InstanceEntity).findOneByOrFail({ id });
      expect(record.odsInstanceId).to.equal(null);
      await expectServerMatchesRecords(stack);
    });

    it('fails a create for good when its name is taken in EdFi_Admin by another database, leaving that row alone', async () => {
      const instanceName = `Taken ${stack.id}`;
      const theirs = await edfi.addOdsInstance(instanceName, null, expectedConnection('EdFi_Ods_Someone_Else'));
      const { jobId, databaseName } = await create('taken', { instanceName }, 'CreateFailed');
      const job = await stack.dataSource.getRepository(JobEntity).findOneByOrFail({ id: jobId });
      expect(job.error).to.match(/is taken in EdFi_Admin by OdsInstanceId \d+.*EdFi_Ods_Someone_Else/);
      const rows = (await edfi.odsInstances()).filter((r) => r.name === instanceName);
      expect(rows).to.have.length(1);
      expect(rows[0]).to.deep.include({ id: theirs, databaseName: 'EdFi_Ods_Someone_Else' });
      expect(await databaseExists(databaseName)).to.equal(false);
    });

    it('adopts a row of its own name that already names its database (a crash after commit), keeping one row', async () => {
      const instanceName = `Adopt ${stack.id}`;
      const databaseName = stack.db('adopt');
      const existing = await edfi.addOdsInstance(instanceName, null, expectedConnection(databaseName));
      const { id } = await create('adopt', {
        instanceName,
        contexts: YEAR_2025.map((x) => ({ ...x, contextValue: '2030' })),
      });
      const rows = (await edfi.odsInstances()).filter((r) => r.name === instanceName);
      expect(rows.map((r) => r.id)).to.deep.equal([existing]);
      expect((await row(id)).record.odsInstanceId).to.equal(existing);
      expect(await edfi.contextsOf(existing)).to.deep.equal([
        { contextKey: 'schoolYearFromRoute', contextValue: '2030' },
      ]);
    });

    it('stores SQL fragments in the name and instance type as text; SQL in contexts never gets past the API', async () => {
      const instanceName = `x'); DROP TABLE dbo.odsinstances; -- ${stack.id}`;
      const contexts = [{ contextKey: 'schoolYearFromRoute', contextValue: '2031' }];
      const clients = await edfi.count('dbo.apiclients');
      const { id } = await create('sqli', { instanceName, contexts, instanceType: "'; DROP SCHEMA dbo CASCADE; --" });
      const { row: registered } = await row(id);
      expect(registered).to.deep.include({ name: instanceName, instanceType: "'; DROP SCHEMA dbo CASCADE; --" });
      expect(await edfi.contextsOf(registered!.id)).to.deep.equal(contexts);

      const rows = await edfi.count('dbo.odsinstances');
      const refused = await stack.request('POST', '/admin/instances', {
        body: {
          instanceName: `SQL in contexts ${stack.id}`,
          databaseName: stack.db('sqli_contexts'),
          odsInstanceContexts: [
            { contextKey: "k'; DELETE FROM dbo.apiclients;--", contextValue: "2025' OR '1'='1" },
            { contextKey: 'districtIdFromRoute', contextValue: '$1; TRUNCATE dbo.odsinstancecontexts' },
          ],
        },
      });
      expect(refused.status).to.equal(400);
      expect(await edfi.count('dbo.odsinstances')).to.equal(rows);
      expect(await edfi.count('dbo.apiclients')).to.equal(clients);
      await expectEdFiAdminMatchesRecords(stack, edfi);
    });
  });

  describe('start-up checks', () => {
    const log = silentLogger();

    it('refuses to start when the key decrypts none of the existing rows, saying why', async () => {
      const edfi = await TestEdFiAdmin.create();
      try {
        await edfi.addOdsInstance('Existing', null, expectedConnection('EdFi_Ods_2024'));
        const wrongKey = randomBytes(32);
        const settings = loadRegistrationSettings(edfi.env('', wrongKey));
        const err = await Registrations.open(settings, { log }).then(
          () => null,
          (e: unknown) => e,
        );
        expect(err).to.be.instanceOf(EdFiAdminStartupError);
        expect((err as Error).message).to.match(
          /none of the 1 encrypted connection strings.*decrypts with the configured encryption key/,
        );
        const fine = await Registrations.open(loadRegistrationSettings(edfi.env()), { log });
        await fine.close();
      } finally {
        await edfi.drop();
      }
    });

    it('refuses to start when the tables are missing, naming them', async () => {
      const edfi = await TestEdFiAdmin.create({ tables: false });
      try {
        await edfi.query(
          'CREATE SCHEMA dbo; CREATE TABLE dbo.odsinstances (odsinstanceid serial, name varchar(100), instancetype varchar(100), connectionstring varchar(1500))',
        );
        const err = await Registrations.open(loadRegistrationSettings(edfi.env()), { log }).then(
          () => null,
          (e: unknown) => e,
        );
        expect(err).to.be.instanceOf(EdFiAdminStartupError);
        expect((err as Error).message).to.include(
          'tables missing: dbo.odsinstancecontexts, dbo.odsinstancederivatives, dbo.apiclientodsinstances, dbo.apiclients',
        );
      } finally {
        await edfi.drop();
      }
    });

    it('the worker process exits with the reason, and its log shows neither key nor connection string', async () => {
      const edfi = await TestEdFiAdmin.create();
      const stack = await startStack({ worker: false });
      try {
        await edfi.addOdsInstance('Existing', null, expectedConnection('EdFi_Ods_2024'));
        const wrongKey = randomBytes(32);
        const worker = new WorkerProcess({ ...stack.env, ...edfi.env('', wrongKey) });
        expect(await worker.exited).to.equal(1);
        const output = worker.lines.join('\n');
        expect(output).to.match(/decrypts with the configured encryption key/);
        expect(output).not.to.include(wrongKey.toString('base64'));
        expect(output).not.to.include('ods-app-pw');
      } finally {
        await stack.stop();
        await edfi.drop();
      }
    });
  });

  describe('two tenants, two EdFi_Admin databases', () => {
    let stack: Stack;
    let a: TestEdFiAdmin;
    let b: TestEdFiAdmin;

    before(async () => {
      [a, b] = await Promise.all([TestEdFiAdmin.create(), TestEdFiAdmin.create()]);
      await a.addApiClient('client-of-a');
      await b.addApiClient('client-of-b');
      stack = await startStack({
        worker: false,
        env: { TENANTS: 'district-a,district-b,district-c', ...a.env('_DISTRICT_A'), ...b.env('_DISTRICT_B') },
      });
    });
    after(async () => {
      await stack.stop();
      await Promise.all([a.drop(), b.drop()]);
    });

    it("writes each instance only into its own tenant's EdFi_Admin, with that tenant's key and clients", async () => {
      const inA = await requestCreate(stack, 'ta', {
        tenant: 'district-a',
        contexts: YEAR_2025,
        apiClientKeys: ['client-of-a'],
      });
      const inB = await requestCreate(stack, 'tb', {
        tenant: 'district-b',
        contexts: YEAR_2025,
        apiClientKeys: ['client-of-b'],
      });
      // A client of tenant A does not exist in B's EdFi_Admin.
      const crossed = await requestCreate(stack, 'tx', { tenant: 'district-b', apiClientKeys: ['client-of-a'] });
      await stack.startWorker();
      await stack.waitForStatus(inA.id, 'Created', 60_000, 'district-a');
      await stack.waitForStatus(inB.id, 'Created', 60_000, 'district-b');
      await stack.waitForStatus(crossed.id, 'CreateFailed', 60_000, 'district-b');

      const rowsA = await a.odsInstances();
      const rowsB = await b.odsInstances();
      expect(rowsA.map((r) => r.databaseName)).to.deep.equal([inA.databaseName]);
      expect(rowsB.map((r) => r.databaseName)).to.deep.equal([inB.databaseName]);
      expect(await a.clientKeysOf(rowsA[0]!.id)).to.deep.equal(['client-of-a']);
      expect(await b.clientKeysOf(rowsB[0]!.id)).to.deep.equal(['client-of-b']);
      const crossedJob = await stack.dataSource.getRepository(JobEntity).findOneByOrFail({ id: crossed.jobId });
      expect(crossedJob.error).to.match(/EdFi_Admin of tenant "district-b".*"client-of-a"/);
      await expectEdFiAdminMatchesRecords(stack, a, 'district-a');
      await expectEdFiAdminMatchesRecords(stack, b, 'district-b');
      await expectServerMatchesRecords(stack);
    });

    it('creates an instance of a tenant without EdFi_Admin settings, registering nothing and saying so', async () => {
      await stack.stopWorkers();
      const [rowsA, rowsB] = [await a.count('dbo.odsinstances'), await b.count('dbo.odsinstances')];
      const requested = await requestCreate(stack, 'tnone', { tenant: 'district-c' });
      await stack.startWorker();
      await stack.waitForStatus(requested.id, 'Created', 60_000, 'district-c');
      const job = await stack.dataSource.getRepository(JobEntity).findOneByOrFail({ id: requested.jobId });
      expect(job.warnings.join('\n')).to.match(/no EdFi_Admin is configured for tenant "district-c"/);
      expect([await a.count('dbo.odsinstances'), await b.count('dbo.odsinstances')]).to.deep.equal([rowsA, rowsB]);
      await expectEdFiAdminMatchesRecords(stack, b, 'district-b');
      await expectServerMatchesRecords(stack);
    });
  });
});
