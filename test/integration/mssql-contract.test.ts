import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import sql from 'mssql';
import { PermanentJobError } from '../../shared/errors';
import { silentLogger } from '../../shared/logger';
import { retryTransient } from '../../shared/retry';
import { MssqlDriver, MssqlDriverOptions } from '../../worker/engines/mssql/driver';
import { MssqlStrategy, parseMssqlSettings, parseMssqlUrl } from '../../worker/engines/mssql/settings';

/**
 * The SQL Server driver's contract against a real server (a container, see
 * docs/engines/sqlserver.md): MSSQL_URL=mssql://sa:…@127.0.0.1:1433/master?trustServerCertificate=true.
 * Without one, the suite says so and skips: nothing here is simulated.
 */
const MSSQL_URL = process.env.MSSQL_URL;
const TEMPLATE = 'odsim_test_template_contract_v1';
const TEMPLATE_ROWS = 3;
const CREATE_STEPS = ['create.cloning', 'create.cloned', 'create.marked', 'create.renamed'];
const RENAME_STEPS = ['rename.closed', 'rename.renamed'];

class Crash extends Error {}

if (!MSSQL_URL)
  describe.skip('SQL Server driver contract (skipped: MSSQL_URL is not set; see docs/engines/sqlserver.md)', () =>
    it('runs when MSSQL_URL names a SQL Server the tests may create and drop databases on'));
else
  describe('SQL Server driver contract', function () {
    this.timeout(180_000);
    const serverUrl = MSSQL_URL;
    const { config, problems } = parseMssqlUrl(serverUrl);
    const drivers: MssqlDriver[] = [];
    const made: string[] = [];
    const sessions: sql.ConnectionPool[] = [];

    async function on<T = Record<string, unknown>>(database: string, text: string): Promise<T[]> {
      const pool = new sql.ConnectionPool({ ...config, database, pool: { max: 1, min: 0 } });
      pool.on('error', () => undefined);
      await pool.connect();
      try {
        return (await pool.request().batch<T>(text)).recordset ?? [];
      } finally {
        await pool.close();
      }
    }

    async function connect(database: string): Promise<sql.ConnectionPool> {
      const pool = new sql.ConnectionPool({ ...config, database, pool: { max: 1, min: 1 } });
      pool.on('error', () => undefined);
      await pool.connect();
      await pool.request().query('SELECT 1');
      sessions.push(pool);
      return pool;
    }

    before(async () => {
      expect(problems).to.deep.equal([]);
      const exists = await on('master', `SELECT name FROM sys.databases WHERE name = N'${TEMPLATE}'`);
      if (!exists.length) {
        await on('master', `CREATE DATABASE [${TEMPLATE}]`);
        await on(TEMPLATE, 'CREATE SCHEMA edfi');
        await on(
          TEMPLATE,
          `CREATE TABLE edfi.Descriptor (DescriptorId int IDENTITY PRIMARY KEY, CodeValue nvarchar(50) NOT NULL)`,
        );
        await on(
          TEMPLATE,
          `INSERT INTO edfi.Descriptor (CodeValue) VALUES ${Array.from({ length: TEMPLATE_ROWS }, (_, i) => `(N'code${i}')`).join(', ')}`,
        );
      }
    });

    afterEach(async () => {
      await Promise.all(sessions.splice(0).map((s) => s.close().catch(() => undefined)));
      await Promise.all(drivers.splice(0).map((d) => d.close()));
      for (const name of made.splice(0)) {
        await on(
          'master',
          `IF DB_ID(N'${name}') IS NOT NULL BEGIN ALTER DATABASE [${name}] SET SINGLE_USER WITH ROLLBACK IMMEDIATE; DROP DATABASE [${name}]; END`,
        ).catch(() => undefined);
      }
    });

    function driver(
      strategy: MssqlStrategy = 'backup-restore',
      options: Partial<MssqlDriverOptions> = {},
    ): MssqlDriver {
      const { settings } = parseMssqlSettings({ ODS_MSSQL_STRATEGY: strategy });
      const d = new MssqlDriver({ serverUrl, settings, log: silentLogger(), pollIntervalMs: 500, ...options });
      drivers.push(d);
      return d;
    }

    function names() {
      const id = randomUUID().replace(/-/g, '').slice(0, 10);
      const n = { db: `t_contract_${id}`, renamed: `t_contract_${id}_new`, staging: `t_contract_${id}_stg` };
      made.push(n.db, n.renamed, n.staging);
      return n;
    }

    function retrying<T>(d: MssqlDriver, op: () => Promise<T>): Promise<T> {
      return retryTransient(op, {
        attempts: 10,
        baseDelayMs: 200,
        maxDelayMs: 2_000,
        isTransient: (err) => d.isTransient(err),
      });
    }

    function createRequest(instanceId: string, n: ReturnType<typeof names>) {
      return { instanceId, databaseName: n.db, templateDatabase: TEMPLATE, stagingName: n.staging };
    }

    function dropRequest(instanceId: string, databaseName: string, stagingNames: string[] = []) {
      return { instanceId, databaseName, stagingNames, ownsNothing: false };
    }

    async function rejection(promise: Promise<unknown>): Promise<Error> {
      try {
        await promise;
      } catch (err) {
        return err as Error;
      }
      throw new Error('expected the operation to fail');
    }

    async function rows(database: string): Promise<number> {
      const [row] = await on<{ n: number }>(database, 'SELECT COUNT(*) AS n FROM edfi.Descriptor');
      return row!.n;
    }

    async function makeForeignDatabase(name: string): Promise<void> {
      await on('master', `CREATE DATABASE [${name}]`);
      await on(name, `CREATE TABLE precious (v nvarchar(20)); INSERT INTO precious VALUES (N'keep me')`);
    }

    async function preciousRow(name: string): Promise<string | undefined> {
      return (await on<{ v: string }>(name, 'SELECT v FROM precious'))[0]?.v;
    }

    describe('create', () => {
      it('backup-restore: copies the template with its rows, marked, and leaves no staging database', async () => {
        const d = driver('backup-restore');
        const n = names();
        const instanceId = randomUUID();
        expect(await retrying(d, () => d.create(createRequest(instanceId, n)))).to.deep.equal({
          outcome: 'created',
          warnings: [],
        });
        expect(await d.describe(n.db)).to.include({
          ownerInstanceId: instanceId,
          valid: true,
          acceptsConnections: true,
        });
        expect(await d.exists(n.staging)).to.equal(false);
        expect(await rows(n.db)).to.equal(TEMPLATE_ROWS);
      });

      it('clonedatabase: copies the schema only, writable, marked', async () => {
        const d = driver('clonedatabase');
        const n = names();
        const instanceId = randomUUID();
        expect((await retrying(d, () => d.create(createRequest(instanceId, n)))).outcome).to.equal('created');
        expect(await d.describe(n.db)).to.include({ ownerInstanceId: instanceId, valid: true, readOnly: false });
        expect(await rows(n.db)).to.equal(0);
      });

      it('is idempotent: a second run finds its database and only probes it', async () => {
        const d = driver();
        const n = names();
        const instanceId = randomUUID();
        expect((await retrying(d, () => d.create(createRequest(instanceId, n)))).outcome).to.equal('created');
        expect((await retrying(d, () => d.create(createRequest(instanceId, n)))).outcome).to.equal('already-created');
        expect(await rows(n.db)).to.equal(TEMPLATE_ROWS);
      });
    });

    describe('never clobber', () => {
      it('refuses, permanently, to create onto a database without its marker, and leaves it untouched', async () => {
        const d = driver();
        const n = names();
        await makeForeignDatabase(n.db);
        const err = await rejection(retrying(d, () => d.create(createRequest(randomUUID(), n))));
        expect(err).to.be.instanceOf(PermanentJobError);
        expect(err.message).to.match(/not managed by ODS Instance Manager.*left untouched/);
        expect(await preciousRow(n.db)).to.equal('keep me');
        expect(await d.exists(n.staging)).to.equal(false);
      });

      it('refuses to drop or rename a database without its marker', async () => {
        const d = driver();
        const n = names();
        await makeForeignDatabase(n.db);
        const instanceId = randomUUID();
        expect(await rejection(retrying(d, () => d.drop(dropRequest(instanceId, n.db))))).to.be.instanceOf(
          PermanentJobError,
        );
        expect(
          await rejection(retrying(d, () => d.rename({ instanceId, from: n.db, to: n.renamed }))),
        ).to.be.instanceOf(PermanentJobError);
        expect(await d.drop({ ...dropRequest(instanceId, n.db), ownsNothing: true })).to.deep.equal({
          outcome: 'left-unmanaged',
          warnings: [],
        });
        expect(await preciousRow(n.db)).to.equal('keep me');
      });
    });

    describe('rename and drop', () => {
      it('renames a database an application is connected to, then renames again idempotently', async () => {
        const d = driver();
        const n = names();
        const instanceId = randomUUID();
        await retrying(d, () => d.create(createRequest(instanceId, n)));
        await connect(n.db);
        expect((await retrying(d, () => d.rename({ instanceId, from: n.db, to: n.renamed }))).outcome).to.equal(
          'renamed',
        );
        expect((await retrying(d, () => d.rename({ instanceId, from: n.db, to: n.renamed }))).outcome).to.equal(
          'already-renamed',
        );
        expect(await d.describe(n.renamed)).to.include({ ownerInstanceId: instanceId, acceptsConnections: true });
        expect(await rows(n.renamed)).to.equal(TEMPLATE_ROWS);
      });

      it('drops a database an application is connected to; a second drop finds it gone', async () => {
        const d = driver();
        const n = names();
        const instanceId = randomUUID();
        await retrying(d, () => d.create(createRequest(instanceId, n)));
        await connect(n.db);
        expect(await retrying(d, () => d.drop(dropRequest(instanceId, n.db)))).to.deep.equal({
          outcome: 'dropped',
          warnings: [],
        });
        expect(await d.exists(n.db)).to.equal(false);
        expect(await retrying(d, () => d.drop(dropRequest(instanceId, n.db)))).to.deep.equal({
          outcome: 'already-absent',
          warnings: [],
        });
      });
    });

    describe('a crash at any step, then a fresh worker', () => {
      for (const step of CREATE_STEPS) {
        it(`create ends created and marked after a crash at ${step}`, async () => {
          const n = names();
          const instanceId = randomUUID();
          const crashing = driver('backup-restore', {
            onStep: async (s) => {
              if (s === step) throw new Crash(`crash at ${s}`);
            },
          });
          expect(await rejection(crashing.create(createRequest(instanceId, n)))).to.be.instanceOf(Crash);
          const fresh = driver();
          const outcome = (await retrying(fresh, () => fresh.create(createRequest(instanceId, n)))).outcome;
          expect(outcome).to.equal(step === 'create.renamed' ? 'already-created' : 'created');
          expect(await fresh.describe(n.db)).to.include({
            ownerInstanceId: instanceId,
            valid: true,
            acceptsConnections: true,
          });
          expect(await fresh.exists(n.staging)).to.equal(false);
          expect(await rows(n.db)).to.equal(TEMPLATE_ROWS);
        });
      }

      for (const step of RENAME_STEPS) {
        it(`rename ends renamed and open after a crash at ${step}`, async () => {
          const n = names();
          const instanceId = randomUUID();
          const setup = driver();
          await retrying(setup, () => setup.create(createRequest(instanceId, n)));
          const crashing = driver('backup-restore', {
            onStep: async (s) => {
              if (s === step) throw new Crash(`crash at ${s}`);
            },
          });
          expect(await rejection(crashing.rename({ instanceId, from: n.db, to: n.renamed }))).to.be.instanceOf(Crash);
          const fresh = driver();
          await retrying(fresh, () => fresh.rename({ instanceId, from: n.db, to: n.renamed }));
          expect(await fresh.exists(n.db)).to.equal(false);
          expect(await fresh.describe(n.renamed)).to.include({ ownerInstanceId: instanceId, acceptsConnections: true });
        });
      }

      it('surveys the server for the inventory: size, state, sessions, marker and Ed-Fi versions', async () => {
        const n = names();
        const instanceId = randomUUID();
        const d = driver();
        await retrying(d, () => d.create(createRequest(instanceId, n)));
        await on(n.db, `CREATE SCHEMA util`);
        await on(n.db, `CREATE FUNCTION util.GetEdFiOdsVersion() RETURNS nvarchar(20) AS BEGIN RETURN N'7.3.0' END`);
        const session = await connect(n.db);
        const seen = (await d.survey!()).find((s) => s.name === n.db);
        expect(seen).to.deep.include({
          state: 'online',
          markerInstanceId: instanceId,
          edfiOdsVersion: '7.3.0',
          edfiStandardVersion: null,
        });
        expect(seen!.sizeBytes).to.be.greaterThan(0);
        expect(seen!.connections).to.be.at.least(1);
        await session.close();
      });

      it('drop ends dropped after a crash at drop.before', async () => {
        const n = names();
        const instanceId = randomUUID();
        const setup = driver();
        await retrying(setup, () => setup.create(createRequest(instanceId, n)));
        const crashing = driver('backup-restore', {
          onStep: async () => {
            throw new Crash('crash at drop.before');
          },
        });
        expect(await rejection(crashing.drop(dropRequest(instanceId, n.db)))).to.be.instanceOf(Crash);
        const fresh = driver();
        expect((await retrying(fresh, () => fresh.drop(dropRequest(instanceId, n.db, [n.staging])))).outcome).to.equal(
          'dropped',
        );
        expect(await fresh.exists(n.db)).to.equal(false);
      });
    });
  });
