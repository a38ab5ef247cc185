import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { ConnectionPool } from 'mssql';
import type { DataSource } from 'typeorm';
import { databaseNameOf, sameServerUrl } from '../../shared/config';
import {
  createAdminDataSource,
  createAdminLockSessions,
  prepareAdminDatabase,
} from '../../shared/database/data-source';
import { withAdvisoryLock } from '../../shared/database/advisory-locks';
import { CONSTRAINTS } from '../../shared/database/constraints';
import { dialectOf } from '../../shared/database/dialects';
import { mssqlConnectionOf, mssqlStringLiteral, quoteMssqlIdentifier } from '../../shared/database/dialects/mssql';
import { DatabaseNameClaimEntity, InstanceEntity, JobEntity } from '../../shared/database/entities';
import { silentLogger } from '../../shared/logger';
import { databaseExists } from '../support/ods-server';
import { Stack, startStack } from '../support/stack';

/**
 * The admin database on a real SQL Server. Runs only when MSSQL_URL names one (a login that may
 * create databases, e.g. mssql://sa:…@127.0.0.1:1433/master?trustServerCertificate=true); see
 * docs/engines/sqlserver-admin.md. The lifecycle runs through the Stack harness with its admin
 * database moved to that server; the ODS databases stay on the local PostgreSQL.
 */
const MSSQL_URL = process.env.MSSQL_URL;

if (!MSSQL_URL) {
  describe.skip('admin database on SQL Server (skipped: MSSQL_URL is not set; see docs/engines/sqlserver-admin.md)', () => {
    it('migrates a fresh admin database and enforces its rules there', () => undefined);
  });
} else {
  describe('admin database on SQL Server', function () {
    this.timeout(120_000);
    const name = `odsim_t_admin_${randomUUID().slice(0, 8)}`;
    const settings = { url: sameServerUrl(MSSQL_URL, name), connectTimeoutMs: 5000, poolSize: 4 };
    let dataSource: DataSource;

    const now = new Date();
    const instance = (overrides: Partial<InstanceEntity> = {}): Partial<InstanceEntity> => ({
      id: randomUUID(),
      instanceName: 'District A',
      instanceNameKey: 'district a',
      databaseName: `edfi_ods_${randomUUID().slice(0, 8)}`,
      status: 'PendingCreate',
      engine: 'mssql',
      createdBy: 'test',
      createdAt: now,
      updatedAt: now,
      tenant: '',
      ...overrides,
    });
    const job = (instanceId: string, overrides: Partial<JobEntity> = {}): Partial<JobEntity> => ({
      id: randomUUID(),
      instanceId,
      type: 'create',
      status: 'queued',
      attempts: 0,
      requestedBy: 'test',
      createdAt: now,
      updatedAt: now,
      ...overrides,
    });
    const violated = async (insert: Promise<unknown>) => {
      try {
        await insert;
      } catch (err) {
        return dialectOf(dataSource).violatedUniqueConstraint(err);
      }
      return 'no error';
    };

    before(async () => {
      dataSource = createAdminDataSource(settings);
      await prepareAdminDatabase(dataSource, settings, silentLogger());
    });

    after(async () => {
      if (dataSource?.isInitialized) await dataSource.destroy();
      await dropMssqlDatabase(MSSQL_URL, name);
    });

    it('creates the admin database and records every migration once, even when several processes start together', async () => {
      const others = Array.from({ length: 3 }, () => createAdminDataSource(settings));
      try {
        await Promise.all(others.map((s) => prepareAdminDatabase(s, settings, silentLogger())));
      } finally {
        await Promise.all(others.filter((s) => s.isInitialized).map((s) => s.destroy()));
      }
      const [row] = await dataSource.query('SELECT count(*) AS n FROM schema_migrations');
      expect(row.n).to.equal(dataSource.migrations.length);
      const [deployment] = await dataSource.query('SELECT id FROM deployment');
      expect(deployment.id).to.match(/^[0-9A-F-]{36}$/i);
    });

    it('refuses a second unfinished job for an instance, naming the filtered unique index', async () => {
      const i = instance();
      await dataSource.getRepository(InstanceEntity).insert(i);
      await dataSource.getRepository(JobEntity).insert(job(i.id!));
      expect(await violated(dataSource.getRepository(JobEntity).insert(job(i.id!)))).to.equal(
        CONSTRAINTS.oneUnfinishedJob,
      );
      // Finished jobs are outside the filter: any number of them.
      await dataSource.getRepository(JobEntity).insert(job(i.id!, { status: 'succeeded' }));
      await dataSource.getRepository(JobEntity).insert(job(i.id!, { status: 'failed' }));
    });

    it('refuses a second live instance of one name in a tenant, but not beside a deleted one or in another tenant', async () => {
      const repo = dataSource.getRepository(InstanceEntity);
      await repo.insert(instance({ instanceNameKey: 'shared name', status: 'Deleted' }));
      await repo.insert(instance({ instanceNameKey: 'shared name' }));
      await repo.insert(instance({ instanceNameKey: 'shared name', tenant: 'other' }));
      expect(await violated(repo.insert(instance({ instanceNameKey: 'shared name' })))).to.equal(
        CONSTRAINTS.activeInstanceName,
      );
    });

    it('refuses a database name claimed twice and a context set used twice, by their names', async () => {
      const i = instance();
      await dataSource.getRepository(InstanceEntity).insert(i);
      const claims = dataSource.getRepository(DatabaseNameClaimEntity);
      await claims.insert({ nameKey: 'edfi_ods_claimed', instanceId: i.id!, createdAt: now });
      expect(
        await violated(claims.insert({ nameKey: 'edfi_ods_claimed', instanceId: i.id!, createdAt: now })),
      ).to.equal(CONSTRAINTS.databaseNameClaim);
      const repo = dataSource.getRepository(InstanceEntity);
      await repo.insert(instance({ instanceNameKey: 'ctx a', contextSetKey: 'schoolyearfromroute=2025' }));
      expect(
        await violated(repo.insert(instance({ instanceNameKey: 'ctx b', contextSetKey: 'schoolyearfromroute=2025' }))),
      ).to.equal(CONSTRAINTS.contextSet);
    });

    it('reads ids back in lower case and logs changes in the event log', async () => {
      const i = instance();
      await dataSource.getRepository(InstanceEntity).insert(i);
      const found = await dataSource.getRepository(InstanceEntity).findOneByOrFail({ id: i.id! });
      expect(found.id).to.equal(i.id);
      await dataSource.getRepository(InstanceEntity).update({ id: i.id! }, { status: 'CreateInProgress' });
      const rows = await dataSource.query('SELECT status FROM events WHERE instance_id = @0 ORDER BY id', [i.id]);
      expect(rows.map((r: { status: string }) => r.status)).to.deep.equal(['PendingCreate', 'CreateInProgress']);
    });

    it('lets one session hold a job lock and refuses it to another until released', async () => {
      const sessions = createAdminLockSessions(settings, 2, silentLogger());
      const a = await sessions.acquire();
      const b = await sessions.acquire();
      try {
        expect(await a.tryLock('odsim:instance:x')).to.equal(true);
        expect(await b.tryLock('odsim:instance:x')).to.equal(false);
        expect(await b.tryLock(7_316_100)).to.equal(true);
        expect(await a.tryLock(7_316_100)).to.equal(false);
        await a.unlockAll();
        expect(await b.tryLock('odsim:instance:x')).to.equal(true);
      } finally {
        a.release();
        b.release();
        await sessions.close();
      }
    });

    it('runs work under a waiting lock one process at a time', async () => {
      const other = createAdminDataSource(settings);
      await other.initialize();
      try {
        const order: string[] = [];
        let release!: () => void;
        const held = new Promise<void>((resolve) => (release = resolve));
        const first = withAdvisoryLock(dataSource, 7_316_001, async () => {
          order.push('first in');
          await held;
          order.push('first out');
        });
        await new Promise((resolve) => setTimeout(resolve, 300));
        const second = withAdvisoryLock(other, 7_316_001, async () => {
          order.push('second in');
        });
        await new Promise((resolve) => setTimeout(resolve, 500));
        expect(order).to.deep.equal(['first in']);
        release();
        await Promise.all([first, second]);
        expect(order).to.deep.equal(['first in', 'first out', 'second in']);
      } finally {
        await other.destroy();
      }
    });
  });

  describe('the instance lifecycle with the admin database on SQL Server (ODS databases on PostgreSQL)', function () {
    this.timeout(180_000);
    let stack: Stack;
    before(async () => {
      // The Stack harness names its admin database; the same name is made on the SQL Server instead.
      stack = await startStack({ adminDatabaseUrl: (url) => sameServerUrl(MSSQL_URL, databaseNameOf(url)) });
    });
    after(async () => {
      const name = databaseNameOf(stack.env.ADMIN_DATABASE_URL);
      await stack.stop();
      await dropMssqlDatabase(MSSQL_URL, name);
    });

    it('creates, renames and deletes an instance, and refuses a second request while one is unfinished', async () => {
      const databaseName = stack.db('mssql_life');
      const created = await stack.request('POST', '/admin/instances', {
        body: { instanceName: `Grand Bend ${stack.id}`, databaseName },
      });
      expect(created.status).to.equal(201);
      expect(created.body.id).to.match(/^[0-9a-f-]{36}$/);
      // While the job is unfinished a second request is a 409, and so is a name that folds to the same key.
      const early = await stack.request('DELETE', `/admin/instances/${created.body.id}`);
      expect(early.status).to.equal(409);
      const twin = await stack.request('POST', '/admin/instances', {
        body: { instanceName: `GRAND BEND ${stack.id}`, databaseName: stack.db('mssql_twin') },
      });
      expect(twin.status).to.equal(409);
      expect(twin.body.detail).to.equal('An instance with this instanceName already exists.');

      await stack.waitForStatus(created.body.id, 'Created');
      expect(await databaseExists(databaseName)).to.equal(true);
      const newName = stack.db('mssql_life_renamed');
      const renamed = await stack.request('PUT', `/admin/instances/${created.body.id}`, {
        body: { databaseName: newName },
      });
      expect(renamed.status).to.equal(200);
      await stack.waitForStatus(created.body.id, 'Created');
      expect(await databaseExists(newName)).to.equal(true);
      const deleted = await stack.request('DELETE', `/admin/instances/${created.body.id}`);
      expect(deleted.status).to.equal(200);
      await stack.waitForStatus(created.body.id, 'Deleted');
      expect(await databaseExists(newName)).to.equal(false);
      const jobs = await stack.request('GET', `/admin/instances/${created.body.id}/jobs`);
      expect(jobs.body.map((j: { type: string; status: string }) => `${j.type}:${j.status}`)).to.deep.equal([
        'delete:succeeded',
        'rename:succeeded',
        'create:succeeded',
      ]);
    });
  });
}

async function dropMssqlDatabase(serverUrl: string, name: string): Promise<void> {
  const master = new ConnectionPool({ ...mssqlConnectionOf(serverUrl, 'master'), pool: { max: 1 } });
  await master.connect();
  try {
    const db = quoteMssqlIdentifier(name);
    await master
      .request()
      .batch(
        `IF DB_ID(${mssqlStringLiteral(name)}) IS NOT NULL BEGIN ALTER DATABASE ${db} SET SINGLE_USER WITH ROLLBACK IMMEDIATE; DROP DATABASE ${db}; END`,
      );
  } finally {
    await master.close();
  }
}
