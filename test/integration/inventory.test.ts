import { randomBytes, randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { createApp } from '../../api/app';
import { TokenService } from '../../api/auth/tokens';
import { loadApiConfig } from '../../shared/config';
import { createQueue, redisConnection } from '../../shared/jobs/queue';
import type { Client } from 'pg';
import { AuditEventEntity, InstanceEntity } from '../../shared/database/entities';
import { silentLogger } from '../../shared/logger';
import { ownershipMarker, type SurveyedDatabase } from '../../worker/engines/engine';
import { PostgresDriver } from '../../worker/engines/postgres/driver';
import { connectTo, dropDatabases, withServer } from '../support/ods-server';
import { POSTGRES_URL } from '../support/settings';
import { type Stack, startStack } from '../support/stack';
import { waitFor } from '../support/wait';

const INTERVAL_MS = 1000;
/**
 * One interval, plus the time the run itself takes: a survey of the shared test server (every
 * database on it, other suites' too, each opened for its versions) takes a few seconds on a busy machine.
 */
const WITHIN_ONE_INTERVAL_MS = INTERVAL_MS + 9000;

describe('the inventory of the ODS server', () => {
  describe('the PostgreSQL survey', () => {
    const prefix = `t_inv_${randomBytes(4).toString('hex')}_`;
    const names = { edfi: `${prefix}edfi`, closed: `${prefix}closed`, readOnly: `${prefix}readonly` };
    let driver: PostgresDriver;
    let session: Client | undefined;

    before(async () => {
      driver = new PostgresDriver({ serverUrl: POSTGRES_URL, log: silentLogger() });
      await withServer(async (c) => {
        for (const name of Object.values(names)) await c.query(`CREATE DATABASE ${c.escapeIdentifier(name)}`);
        await c.query(`ALTER DATABASE ${c.escapeIdentifier(names.closed)} ALLOW_CONNECTIONS false`);
        await c.query(`ALTER DATABASE ${c.escapeIdentifier(names.readOnly)} SET default_transaction_read_only = on`);
        await c.query(
          `COMMENT ON DATABASE ${c.escapeIdentifier(names.edfi)} IS '${ownershipMarker('0b0e0c0d-0000-4000-8000-000000000001')}'`,
        );
      });
      session = await connectTo(names.edfi);
      // As Ed-Fi's PostgreSQL scripts create them: unquoted, so folded to lower case.
      await session.query('CREATE SCHEMA util');
      await session.query(`CREATE FUNCTION util.GetEdFiOdsVersion() RETURNS text LANGUAGE sql AS $$ SELECT '7.3.0' $$`);
      await session.query(
        `CREATE FUNCTION util.GetEdFiStandardVersion() RETURNS text LANGUAGE sql AS $$ SELECT '5.2.0' $$`,
      );
    });
    after(async () => {
      await session?.end();
      await driver.close();
      await dropDatabases(Object.values(names));
    });

    it('reports size, state, open connections, the marker and the Ed-Fi versions of a database', async () => {
      const seen = await driver.survey();
      const edfi = seen.find((d) => d.name === names.edfi);
      expect(edfi, 'the database it created').to.not.equal(undefined);
      expect(edfi!.sizeBytes).to.be.greaterThan(0);
      expect(edfi).to.deep.include({
        state: 'online',
        allowsConnections: true,
        markerInstanceId: '0b0e0c0d-0000-4000-8000-000000000001',
        edfiOdsVersion: '7.3.0',
        edfiStandardVersion: '5.2.0',
      } satisfies Partial<SurveyedDatabase>);
      expect(edfi!.connections, 'the open session').to.be.at.least(1);
    });

    it('opens a database for its versions again only once its size changed (a template being copied takes no session)', async () => {
      // Sessions ever opened on the database (PostgreSQL 14+), once the last one's end is counted.
      const sessionsOpened = async () => {
        let last = -1;
        for (;;) {
          const now = await withServer(async (c) =>
            Number(
              (await c.query('SELECT sessions FROM pg_stat_database WHERE datname = $1', [names.edfi])).rows[0]
                .sessions,
            ),
          );
          if (now === last) return now;
          last = now;
          await new Promise((resolve) => setTimeout(resolve, 300));
        }
      };
      const fresh = new PostgresDriver({ serverUrl: POSTGRES_URL, log: silentLogger() });
      try {
        const before = await sessionsOpened();
        await fresh.survey();
        const afterFirst = await sessionsOpened();
        expect(afterFirst, 'the first survey opens it').to.be.greaterThan(before);
        const again = await fresh.survey();
        expect(again.find((d) => d.name === names.edfi)).to.deep.include({ edfiOdsVersion: '7.3.0' });
        expect(await sessionsOpened(), 'an unchanged database is not opened again').to.equal(afterFirst);

        // An upgrade: new version, new size. The next survey reads it.
        await session!.query(
          `CREATE OR REPLACE FUNCTION util.GetEdFiOdsVersion() RETURNS text LANGUAGE sql AS $$ SELECT '7.4.0' $$`,
        );
        await session!.query('CREATE TABLE util.upgrade_log AS SELECT g FROM generate_series(1, 50000) g');
        const upgraded = await fresh.survey();
        expect(upgraded.find((d) => d.name === names.edfi)).to.deep.include({ edfiOdsVersion: '7.4.0' });
      } finally {
        await fresh.close();
        await session!.query(
          `CREATE OR REPLACE FUNCTION util.GetEdFiOdsVersion() RETURNS text LANGUAGE sql AS $$ SELECT '7.3.0' $$`,
        );
      }
    });

    it('tells a database that takes no connections and a read-only one, and leaves out the system databases', async () => {
      const seen = await driver.survey();
      const byName = new Map(seen.map((d) => [d.name, d]));
      expect(byName.get(names.closed)).to.deep.include({
        state: 'not-connectable',
        allowsConnections: false,
        edfiOdsVersion: null,
        markerInstanceId: null,
      });
      expect(byName.get(names.readOnly)).to.deep.include({ state: 'read-only', edfiOdsVersion: null });
      for (const system of ['postgres', 'template0', 'template1']) expect(byName.has(system), system).to.equal(false);
    });
  });

  describe('through the API and a worker', () => {
    let stack: Stack;
    before(async () => {
      stack = await startStack({ env: { INVENTORY_INTERVAL_MS: String(INTERVAL_MS) } });
    });
    after(async () => stack.stop());

    const instance = async (id: string) => (await stack.request('GET', `/admin/instances/${id}`)).body;
    const metrics = async () => {
      const r = await stack.request('GET', '/metrics');
      expect(r.status).to.equal(200);
      return r.body as string;
    };
    const gauge = (text: string, line: string) => {
      const found = text.split('\n').find((l) => l.startsWith(`${line} `));
      return found === undefined ? undefined : Number(found.slice(line.length + 1));
    };

    it('flags a database dropped or renamed by hand as drift within one interval, leaving the status as it was', async () => {
      const dropped = await stack.createInstance('dropped');
      const renamed = await stack.createInstance('renamed');
      // The facts of a run that began after both were created.
      for (const { id } of [dropped, renamed]) {
        const seen = await waitFor(
          async () => ((await instance(id)).inventory?.exists ? instance(id) : undefined),
          'inventory facts of the new instances',
          WITHIN_ONE_INTERVAL_MS * 2,
        );
        expect(seen.inventory.sizeBytes).to.be.greaterThan(0);
        expect(seen.inventory.state).to.equal('online');
        expect(seen.inventory.ageSeconds).to.be.a('number');
        expect(seen.drift).to.equal(null);
      }
      expect(gauge(await metrics(), 'odsim_instances_drift{kind="missing"}')).to.equal(0);

      const handRenamed = stack.db('renamed_by_hand');
      await withServer(async (c) => {
        await c.query(`DROP DATABASE ${c.escapeIdentifier(dropped.databaseName)} WITH (FORCE)`);
        await c.query(
          `ALTER DATABASE ${c.escapeIdentifier(renamed.databaseName)} RENAME TO ${c.escapeIdentifier(handRenamed)}`,
        );
      });
      const changedAt = Date.now();
      const droppedNow = await waitFor(
        async () => ((await instance(dropped.id)).drift ? instance(dropped.id) : undefined),
        'drift of the dropped database',
        WITHIN_ONE_INTERVAL_MS,
      );
      const elapsed = Date.now() - changedAt;
      expect(elapsed, 'within one inventory interval (and the run)').to.be.below(WITHIN_ONE_INTERVAL_MS);
      expect(droppedNow.drift.kind).to.equal('missing');
      expect(droppedNow.drift.detail).to.match(/not on the server/);
      expect(droppedNow.inventory.exists).to.equal(false);
      expect(droppedNow.status, 'never repaired, never re-statused').to.equal('Created');

      const renamedNow = await waitFor(
        async () => ((await instance(renamed.id)).drift ? instance(renamed.id) : undefined),
        'drift of the renamed database',
        WITHIN_ONE_INTERVAL_MS,
      );
      expect(renamedNow.drift.kind).to.equal('missing');
      expect(renamedNow.drift.detail).to.include(`renamed by hand to "${handRenamed}"`);
      expect(renamedNow.status).to.equal('Created');

      const drifting = await stack.request('GET', '/admin/instances?drift=true');
      expect(drifting.body.map((i: { id: string }) => i.id).sort()).to.deep.equal([dropped.id, renamed.id].sort());
      expect(drifting.body.every((i: { drift: unknown }) => i.drift !== null)).to.equal(true);
      const notDrifting = await stack.request('GET', '/admin/instances?drift=false');
      expect(notDrifting.body.map((i: { id: string }) => i.id)).not.to.include(dropped.id);

      const text = await metrics();
      expect(gauge(text, 'odsim_instances_drift{kind="missing"}')).to.equal(2);
      expect(gauge(text, 'odsim_instances{status="Created"}')).to.equal(2);
      expect(gauge(text, 'odsim_inventory_age_seconds')).to.be.within(0, 10);

      // Nothing was repaired: the rows are as the worker left them, the rename stays where the hand put it.
      const rows = await stack.dataSource.getRepository(InstanceEntity).findBy({ status: 'Created' });
      expect(rows.map((r) => r.databaseName).sort()).to.deep.equal([dropped.databaseName, renamed.databaseName].sort());
    });

    it("lists a database carrying this manager's marker for no known instance among the unknown databases", async () => {
      const stray = stack.db('restored_copy');
      const owner = randomUUID();
      await withServer(async (c) => {
        await c.query(`CREATE DATABASE ${c.escapeIdentifier(stray)}`);
        await c.query(`COMMENT ON DATABASE ${c.escapeIdentifier(stray)} IS '${ownershipMarker(owner)}'`);
      });
      const inventory = await waitFor(
        async () => {
          const r = await stack.request('GET', '/admin/inventory');
          return r.body.unknownDatabases?.some((d: { databaseName: string }) => d.databaseName === stray)
            ? r.body
            : undefined;
        },
        'the unknown database',
        WITHIN_ONE_INTERVAL_MS,
      );
      expect(
        inventory.unknownDatabases.find((d: { databaseName: string }) => d.databaseName === stray),
      ).to.deep.include({ markerInstanceId: owner });
      // The hand-renamed copy of a live instance is not unknown: its instance exists. (The shared test
      // server also holds other deployments' databases, unknown to this one: no exact count.)
      const names = inventory.unknownDatabases.map((d: { databaseName: string }) => d.databaseName);
      expect(names).not.to.include(stack.db('renamed_by_hand'));
      expect(inventory.unknownDatabaseCount).to.equal(names.length);
      expect(inventory.lastRun.error).to.equal(null);
      expect(gauge(await metrics(), 'odsim_inventory_unknown_databases')).to.be.at.least(1);
    });

    it('takes a run on demand (POST, write access, audited), and read-only access may look but not ask', async () => {
      // On demand only from here: the schedule is removed.
      await stack.stopWorkers();
      await stack.startWorker({ INVENTORY_INTERVAL_MS: '0' });
      const before = (await stack.request('GET', '/admin/inventory', { token: stack.tokens.read })).body;
      expect(before.lastRun).to.not.equal(null);

      const refused = await stack.request('POST', '/admin/inventory', { token: stack.tokens.read });
      expect(refused.status).to.equal(403);
      expect(refused.headers.get('content-type')).to.match(/^application\/problem\+json/);

      const asked = await stack.request('POST', '/admin/inventory');
      expect(asked.status, JSON.stringify(asked.body)).to.equal(202);
      expect(asked.headers.get('location')).to.equal('/admin/inventory');
      expect(asked.body.queued).to.equal(true);
      // The first one is still waiting or running (a survey takes longer than a request): not doubled.
      const again = await stack.request('POST', '/admin/inventory');
      expect(again.status).to.equal(202);
      expect(again.body.queued).to.equal(false);
      const after = await waitFor(
        async () => {
          const r = (await stack.request('GET', '/admin/inventory')).body;
          return r.lastRun.id !== before.lastRun.id && r.lastRun.finishedAt ? r : undefined;
        },
        'the requested run',
        10_000,
      );
      expect(after.lastRun.error).to.equal(null);
      expect(after.lastSuccessfulRun.id).to.equal(after.lastRun.id);
      const audit = await stack.dataSource.getRepository(AuditEventEntity).findBy({ action: 'inventory.request' });
      expect(audit.map((a) => `${a.outcome}:${a.details}`).sort()).to.deep.equal([
        'accepted:{"queued":false}',
        'accepted:{"queued":true}',
      ]);
    });

    it('refuses a bad drift filter with 400 problem+json', async () => {
      const r = await stack.request('GET', '/admin/instances?drift=yes');
      expect(r.status).to.equal(400);
      expect(r.headers.get('content-type')).to.match(/^application\/problem\+json/);
      expect(r.body.errors).to.have.property('drift');
    });

    it('hides the names of unknown databases in a deployment with tenants, and shows only their count', async () => {
      const config = loadApiConfig({ ...stack.env, TENANTS: 'district-a' });
      const redis = redisConnection(config.redis.url);
      redis.on('error', () => undefined);
      const queue = createQueue(redis, config.redis.prefix, stack.deploymentId);
      const app = createApp({
        config,
        dataSource: stack.dataSource,
        queue,
        deploymentId: stack.deploymentId,
        redis,
        tokens: new TokenService(config.tokens.signingKey!, { ...config.tokens, deploymentId: stack.deploymentId }),
        logger: silentLogger(),
      });
      const server = await new Promise<Server>((resolve) => {
        const s = app.listen(0, '127.0.0.1', () => resolve(s));
      });
      try {
        const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/admin/inventory`;
        const r = await fetch(url, { headers: { authorization: `Bearer ${stack.tokens.read}` } });
        expect(r.status).to.equal(200);
        const body = (await r.json()) as { unknownDatabases: unknown; unknownDatabaseCount: number };
        expect(body.unknownDatabases).to.equal(null);
        expect(body.unknownDatabaseCount).to.be.at.least(1);
      } finally {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
        await queue.close();
        redis.disconnect();
      }
    });

    it('answers /metrics only to an authenticated caller', async () => {
      const anonymous = await stack.request('GET', '/metrics', { token: null });
      expect(anonymous.status).to.equal(401);
      const readOnly = await stack.request('GET', '/metrics', { token: stack.tokens.read });
      expect(readOnly.status).to.equal(200);
      expect(readOnly.body).to.match(/^# HELP odsim_instances /m);
    });
  });
});
