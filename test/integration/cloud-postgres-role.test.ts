import { randomBytes, randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { Client } from 'pg';
import { errorCode } from '../../shared/database/postgres-errors';
import { ConfigurationError } from '../../shared/errors';
import { silentLogger } from '../../shared/logger';
import { withTimeout } from '../../shared/retry';
import { parseOwnershipMarker } from '../../worker/engines/engine';
import { PostgresDriver } from '../../worker/engines/postgres/driver';
import { preparePostgres } from '../../worker/engines/postgres/prepare';
import { STAND_IN_LABEL } from '../../worker/templates/stand-in';
import { CapturedLog } from '../support/log-capture';
import { withServer } from '../support/ods-server';
import { WorkerProcess } from '../support/processes';
import { SMALL_TEMPLATE, urlFor } from '../support/settings';
import { Stack } from '../support/stack';

/**
 * What RDS, Azure Database for PostgreSQL and Cloud SQL give the worker: no superuser, a role
 * with CREATEDB, maybe pg_signal_backend, and a template marked IS_TEMPLATE by its owner. The
 * roles are made here on the local server (trust authentication, so no password) with unique
 * names, and dropped afterwards with everything they own.
 */
const run = randomBytes(4).toString('hex');
/** The worker's login: LOGIN CREATEDB, nothing else (pg_signal_backend is granted and revoked per test). */
const WORKER = `odsim_t_cloud_${run}`;
/** A login without CREATEDB. */
const NO_CREATEDB = `odsim_t_nocdb_${run}`;
/** The ODS/API's login: its sessions are other roles' sessions to the worker. */
const APP = `odsim_t_app_${run}`;
const ROLES = [WORKER, NO_CREATEDB, APP];
const db = (name: string) => `t_cloud_${run}_${name}`;
/** Owned by postgres, marked IS_TEMPLATE: how an admin leaves the Ed-Fi template for the worker. */
const TEMPLATE = db('tpl');
/** Owned by postgres and not marked: the worker's role may not copy it. */
const UNMARKED = db('unmarked');

function urlAs(role: string, database = 'postgres'): string {
  const url = new URL(urlFor(database));
  url.username = role;
  url.password = '';
  return url.toString();
}

const admin = (sql: string) => withServer((c) => c.query(sql));
const signalBackend = (granted: boolean) =>
  admin(granted ? `GRANT pg_signal_backend TO ${WORKER}` : `REVOKE pg_signal_backend FROM ${WORKER}`);

/** What the server says of one database. */
async function stateOf(name: string) {
  const rows = await withServer(
    async (c) =>
      (
        await c.query<{ owner: string; datistemplate: boolean; datallowconn: boolean; marker: string | null }>(
          `SELECT pg_get_userbyid(datdba) AS owner, datistemplate, datallowconn,
                  shobj_description(oid, 'pg_database') AS marker
           FROM pg_database WHERE datname = $1`,
          [name],
        )
      ).rows,
  );
  const row = rows[0];
  if (!row) return null;
  return {
    owner: row.owner,
    isTemplate: row.datistemplate,
    allowsConnections: row.datallowconn,
    markedFor: parseOwnershipMarker(row.marker),
    comment: row.marker,
  };
}

/** A session of `role` on `database`, as an ODS/API connection pool holds one. */
async function sessionAs(role: string, database: string): Promise<Client> {
  const client = new Client({ connectionString: urlAs(role, database) });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

async function alive(client: Client): Promise<boolean> {
  return client.query('SELECT 1').then(
    () => true,
    () => false,
  );
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.fail('expected a rejection'),
    (err: unknown) => err,
  );
}

describe('PostgreSQL as the managed services give it (a role with CREATEDB, no superuser)', function () {
  this.timeout(120_000);

  before(async () => {
    await admin(`CREATE ROLE ${WORKER} LOGIN CREATEDB`);
    await admin(`CREATE ROLE ${NO_CREATEDB} LOGIN`);
    await admin(`CREATE ROLE ${APP} LOGIN`);
    for (const name of [TEMPLATE, UNMARKED]) await admin(`CREATE DATABASE ${name} TEMPLATE ${SMALL_TEMPLATE}`);
    await admin(`ALTER DATABASE ${TEMPLATE} IS_TEMPLATE true`);
  });

  after(async () => {
    await withServer(async (c) => {
      const { rows } = await c.query<{ datname: string }>(
        `SELECT datname FROM pg_database WHERE datname LIKE $1 OR pg_get_userbyid(datdba) = ANY($2::text[])`,
        [`t\\_cloud\\_${run}\\_%`, ROLES],
      );
      for (const { datname } of rows) {
        const name = c.escapeIdentifier(datname);
        await c.query(`ALTER DATABASE ${name} IS_TEMPLATE false`);
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      }
      for (const role of ROLES) {
        const exists = await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role]);
        if (!exists.rowCount) continue;
        await c.query(`REASSIGN OWNED BY ${role} TO postgres`);
        await c.query(`DROP OWNED BY ${role}`);
        await c.query(`DROP ROLE ${role}`);
      }
    });
  });

  describe('the driver, connected as that role', () => {
    let driver: PostgresDriver;
    beforeEach(() => {
      driver = new PostgresDriver({ serverUrl: urlAs(WORKER), log: silentLogger(), lockTimeoutMs: 5000 });
    });
    afterEach(async () => {
      await driver.close();
      await signalBackend(false);
    });

    const create = (instanceId: string, name: string) =>
      driver.create({ instanceId, databaseName: name, templateDatabase: TEMPLATE, stagingName: `${name}_stg` });

    it("creates from a template marked IS_TEMPLATE, renames while the ODS/API's role is connected (pg_signal_backend), and drops", async () => {
      await signalBackend(true);
      const instanceId = randomUUID();
      const [name, renamed] = [db('life'), db('life_renamed')];

      expect((await create(instanceId, name)).outcome).to.equal('created');
      expect(await stateOf(name)).to.include({
        owner: WORKER,
        isTemplate: false,
        allowsConnections: true,
        markedFor: instanceId,
      });
      expect(await stateOf(`${name}_stg`), 'the staging copy took the final name').to.equal(null);
      expect(await stateOf(TEMPLATE), 'the template is as the admin left it').to.include({
        owner: 'postgres',
        isTemplate: true,
        markedFor: null,
      });
      expect((await create(instanceId, name)).outcome, 'a re-run finds it done').to.equal('already-created');

      const app = await sessionAs(APP, name);
      try {
        expect((await driver.rename({ instanceId, from: name, to: renamed })).outcome).to.equal('renamed');
        expect(await stateOf(name)).to.equal(null);
        expect(await stateOf(renamed)).to.include({ owner: WORKER, allowsConnections: true, markedFor: instanceId });
        expect(await alive(app), "the ODS/API's session was ended").to.equal(false);
      } finally {
        await app.end().catch(() => undefined);
      }

      const again = await sessionAs(APP, renamed);
      try {
        const dropped = await driver.drop({ instanceId, databaseName: renamed, stagingNames: [], ownsNothing: false });
        expect(dropped.outcome).to.equal('dropped');
        expect(await stateOf(renamed)).to.equal(null);
        expect(await alive(again)).to.equal(false);
      } finally {
        await again.end().catch(() => undefined);
      }
    });

    it('without pg_signal_backend, fails to rename or drop while another role is connected (42501, not retried), leaving the database as it was; both work once that session is gone', async () => {
      const instanceId = randomUUID();
      const [name, renamed] = [db('nosignal'), db('nosignal_renamed')];
      expect((await create(instanceId, name)).outcome).to.equal('created');
      const app = await sessionAs(APP, name);
      try {
        const renameErr = await rejection(driver.rename({ instanceId, from: name, to: renamed }));
        expect(errorCode(renameErr)).to.equal('42501');
        expect((renameErr as Error).message).to.match(/pg_signal_backend|terminate/);
        expect(driver.isTransient(renameErr), 'retrying cannot help').to.equal(false);
        expect(await stateOf(name), 'open to connections again').to.include({
          owner: WORKER,
          allowsConnections: true,
          markedFor: instanceId,
        });
        expect(await stateOf(renamed)).to.equal(null);

        const dropErr = await rejection(
          driver.drop({ instanceId, databaseName: name, stagingNames: [], ownsNothing: false }),
        );
        expect(errorCode(dropErr)).to.equal('42501');
        expect(driver.isTransient(dropErr)).to.equal(false);
        expect(await stateOf(name)).to.include({ markedFor: instanceId });
        expect(await alive(app), "the ODS/API's session was left alone").to.equal(true);
      } finally {
        await app.end();
      }
      expect((await driver.rename({ instanceId, from: name, to: renamed })).outcome).to.equal('renamed');
      expect(
        (await driver.drop({ instanceId, databaseName: renamed, stagingNames: [], ownsNothing: false })).outcome,
      ).to.equal('dropped');
      expect(await stateOf(renamed)).to.equal(null);
    });

    it("creates from a template whose public schema belongs to the admin who restored it (no CREATE there for the worker's role)", async () => {
      const template = db('tpl_public_owned');
      await admin(`CREATE DATABASE ${template} TEMPLATE ${SMALL_TEMPLATE}`);
      await withServer(
        (c) => c.query('ALTER SCHEMA public OWNER TO postgres; REVOKE CREATE ON SCHEMA public FROM PUBLIC'),
        urlFor(template),
      );
      await admin(`ALTER DATABASE ${template} IS_TEMPLATE true`);
      const instanceId = randomUUID();
      const name = db('public_owned');
      const created = await driver.create({
        instanceId,
        databaseName: name,
        templateDatabase: template,
        stagingName: `${name}_stg`,
      });
      expect(created.outcome).to.equal('created');
      expect(await stateOf(name)).to.include({ owner: WORKER, markedFor: instanceId });
    });

    it('drops on the PostgreSQL 11–12 path (shut out, terminate, DROP) with the ODS/API connected', async () => {
      await signalBackend(true);
      const legacy = new PostgresDriver({ serverUrl: urlAs(WORKER), log: silentLogger(), legacyDrop: true });
      const instanceId = randomUUID();
      const name = db('legacy');
      try {
        await create(instanceId, name);
        const app = await sessionAs(APP, name);
        const dropped = await legacy.drop({ instanceId, databaseName: name, stagingNames: [], ownsNothing: false });
        await app.end().catch(() => undefined);
        expect(dropped.outcome).to.equal('dropped');
        expect(await stateOf(name)).to.equal(null);
      } finally {
        await legacy.close();
      }
    });

    it("cannot end a superuser's session even with pg_signal_backend: the rename fails and leaves the database as it was", async () => {
      await signalBackend(true);
      const instanceId = randomUUID();
      const name = db('su_session');
      await create(instanceId, name);
      const superuserSession = await sessionAs('postgres', name);
      try {
        const err = await rejection(driver.rename({ instanceId, from: name, to: db('su_session_to') }));
        expect(errorCode(err)).to.equal('42501');
        expect((err as Error).message).to.match(/superuser/);
        expect(await stateOf(name)).to.include({ allowsConnections: true, markedFor: instanceId });
      } finally {
        await superuserSession.end();
      }
    });
  });

  describe('the start-up check (the prepare hook of the engine)', () => {
    const fast = { attempts: 2, baseDelayMs: 50, maxDelayMs: 100 };
    afterEach(() => signalBackend(false));

    async function prepare(role: string, templateDatabase: string, createStandInTemplate = false) {
      const log = new CapturedLog('worker', 'info');
      const serverUrl = role === 'postgres' ? urlFor('postgres') : urlAs(role);
      const outcome = await preparePostgres(
        { serverUrl, settings: {}, templateDatabase, createStandInTemplate, log: log.logger },
        fast,
      ).then(
        () => null,
        (err: unknown) => err,
      );
      const capabilities = log.events('ods_server.role_capabilities');
      expect(capabilities, 'one line says what the login can do').to.have.length(1);
      return {
        refusal: outcome,
        capabilities: capabilities[0]!.capabilities as string[],
        warnings: log.events('ods_server.role_check'),
      };
    }

    async function refusalOf(role: string, templateDatabase: string, createStandInTemplate = false) {
      const { refusal } = await prepare(role, templateDatabase, createStandInTemplate);
      expect(refusal).to.be.instanceOf(ConfigurationError);
      return refusal as ConfigurationError;
    }

    it('passes a superuser', async () => {
      const found = await prepare('postgres', SMALL_TEMPLATE);
      expect(found.refusal).to.equal(null);
      expect(found.capabilities).to.include('SUPERUSER').and.include('pg_signal_backend');
      expect(found.warnings).to.deep.equal([]);
    });

    it('passes a role with CREATEDB and pg_signal_backend and a template marked IS_TEMPLATE, quietly', async () => {
      await signalBackend(true);
      const found = await prepare(WORKER, TEMPLATE);
      expect(found.refusal).to.equal(null);
      expect(found.capabilities).to.deep.equal([
        'CREATEDB',
        'pg_signal_backend',
        `template "${TEMPLATE}" is marked IS_TEMPLATE`,
        `CONNECT on template "${TEMPLATE}"`,
      ]);
      expect(found.warnings).to.deep.equal([]);
    });

    it('passes a role without pg_signal_backend with a loud warning naming what fails and the grant', async () => {
      const found = await prepare(WORKER, TEMPLATE);
      expect(found.refusal).to.equal(null);
      expect(found.warnings).to.have.length(1);
      expect(found.warnings[0]).to.include({ level: 'warn', role: WORKER, missing: 'pg_signal_backend' });
      expect(found.warnings[0]!.message)
        .to.include('renaming an instance and deleting one fail')
        .and.include(`GRANT pg_signal_backend TO ${WORKER};`);
    });

    it('refuses a role without CREATEDB, naming CREATEDB and the statement that grants it', async () => {
      const err = await refusalOf(NO_CREATEDB, TEMPLATE);
      expect(err.message).to.include(`(role "${NO_CREATEDB}") cannot create instances`);
      expect(err.problems[0]).to.include('lacks CREATEDB').and.include(`ALTER ROLE ${NO_CREATEDB} CREATEDB;`);
      // Everything is listed at once: the missing pg_signal_backend too.
      expect(err.problems).to.have.length(2);
      expect(err.problems[1]).to.include(`GRANT pg_signal_backend TO ${NO_CREATEDB};`);
    });

    it('refuses a template neither marked IS_TEMPLATE nor owned by the role, naming it and both ways out', async () => {
      await signalBackend(true);
      const err = await refusalOf(WORKER, UNMARKED);
      expect(err.problems).to.have.length(1);
      expect(err.problems[0])
        .to.include(`template database "${UNMARKED}" cannot be copied by role "${WORKER}"`)
        .and.include('owned by "postgres"')
        .and.include(`ALTER DATABASE ${UNMARKED} IS_TEMPLATE true;`)
        .and.include(`ALTER DATABASE ${UNMARKED} OWNER TO ${WORKER};`);
    });

    it('passes a template the role owns though it is not marked IS_TEMPLATE', async () => {
      await signalBackend(true);
      const owned = db('owned');
      await admin(`CREATE DATABASE ${owned} OWNER ${WORKER} TEMPLATE ${SMALL_TEMPLATE}`);
      const found = await prepare(WORKER, owned);
      expect(found.refusal).to.equal(null);
      expect(found.capabilities).to.include(`owns template "${owned}"`);
    });

    it('starts without a template, warning that creates fail until it exists', async () => {
      await signalBackend(true);
      const found = await prepare(WORKER, db('missing'));
      expect(found.refusal).to.equal(null);
      expect(found.warnings).to.have.length(1);
      expect(found.warnings[0]).to.include({ level: 'warn', role: WORKER, missing: 'template' });
      expect(found.warnings[0]!.message).to.equal(
        `template database "${db('missing')}" (ODS_TEMPLATE_DATABASE) does not exist on the ODS server: ` +
          'every create fails until it does (renames and deletes work). ' +
          'Restore the Ed-Fi template under that name, or set ODS_TEMPLATE_DATABASE to the name it has.',
      );
    });

    it('with ODS_TEMPLATE_STANDIN, builds the stand-in as the role (which then owns it) before checking', async () => {
      await signalBackend(true);
      const standIn = db('standin');
      const found = await prepare(WORKER, standIn, true);
      expect(found.refusal).to.equal(null);
      expect(found.capabilities).to.include(`owns template "${standIn}"`);
      expect(await stateOf(standIn)).to.include({ owner: WORKER, comment: STAND_IN_LABEL });
    });

    it('with ODS_TEMPLATE_STANDIN but no CREATEDB, builds nothing and refuses, naming both', async () => {
      const standIn = db('standin_nocdb');
      const err = await refusalOf(NO_CREATEDB, standIn, true);
      expect(err.problems[0]).to.include('lacks CREATEDB');
      expect(err.problems[1]).to.include(`"${standIn}"`).and.include('ODS_TEMPLATE_STANDIN builds a stand-in only');
      expect(await stateOf(standIn)).to.equal(null);
    });
  });

  describe('the worker process', () => {
    let stack: Stack;
    const workers: WorkerProcess[] = [];
    before(async () => {
      stack = await new Stack({ env: { ODS_TEMPLATE_DATABASE: TEMPLATE } }).start({ worker: false });
    });
    afterEach(async () => {
      await Promise.all(workers.splice(0).map((w) => w.kill('SIGKILL')));
      await signalBackend(false);
    });
    after(async () => stack.stop());

    const spawn = (role: string) => {
      const worker = new WorkerProcess({ ...stack.env, ODS_SERVER_URL: urlAs(role), LOG_LEVEL: 'info' });
      workers.push(worker);
      return worker;
    };

    it('exits 1 with the missing grants when its login lacks CREATEDB', async () => {
      const worker = spawn(NO_CREATEDB);
      expect(await withTimeout(worker.exited, 60_000, 'the worker did not exit')).to.equal(1);
      const output = worker.lines.join('\n');
      expect(output).to.include(`(role "${NO_CREATEDB}") cannot create instances`);
      expect(output).to.include(`ALTER ROLE ${NO_CREATEDB} CREATEDB;`);
      expect(worker.events('worker.connected')).to.deep.equal([]);
    });

    it('starts without pg_signal_backend, warning of what will fail', async () => {
      const worker = spawn(WORKER);
      const warning = await worker.waitForEvent('ods_server.role_check');
      expect(warning).to.include({ level: 'warn', role: WORKER, missing: 'pg_signal_backend' });
      await worker.waitForEvent('worker.connected');
    });

    it('creates, renames (ending the ODS/API session) and deletes an instance end to end as the role', async () => {
      await signalBackend(true);
      const worker = spawn(WORKER);
      const found = await worker.waitForEvent('ods_server.role_capabilities');
      expect(found).to.include({ role: WORKER });
      expect(found.capabilities).to.include('CREATEDB').and.include('pg_signal_backend');
      await worker.waitForEvent('worker.connected');
      expect(worker.events('ods_server.role_check')).to.deep.equal([]);

      const instance = await stack.createInstance('e2e');
      expect(await stateOf(instance.databaseName)).to.include({ owner: WORKER, markedFor: instance.id });

      const to = stack.db('e2e_renamed');
      const app = await sessionAs(APP, instance.databaseName);
      try {
        const put = await stack.request('PUT', `/admin/instances/${instance.id}`, { body: { databaseName: to } });
        expect(put.status).to.equal(200);
        const renamed = await stack.waitForStatus(instance.id, 'Created');
        expect(renamed.databaseName).to.equal(to);
        expect(await stateOf(to)).to.include({ owner: WORKER, allowsConnections: true, markedFor: instance.id });
        expect(await alive(app)).to.equal(false);
      } finally {
        await app.end().catch(() => undefined);
      }

      const del = await stack.request('DELETE', `/admin/instances/${instance.id}`);
      expect(del.status).to.equal(200);
      await stack.waitForStatus(instance.id, 'Deleted');
      expect(await stateOf(to)).to.equal(null);
    });
  });
});
