import { expect } from 'chai';
import type { Queue } from 'bullmq';
import type { RedisClient } from '../../shared/redis';
import { stagingDatabaseName } from '../../shared/database-names';
import { createQueue, type JobPayload, redisConnection } from '../../shared/jobs/queue';
import { planOperation } from '../../worker/engines/registry';
import { WRITE_PROBE } from '../../worker/engines/postgres/statements';
import { databaseExists } from '../support/ods-server';
import { REDIS_URL, SMALL_TEMPLATE } from '../support/settings';
import { type HttpResult, Stack, startStack } from '../support/stack';

/**
 * `?dryRun=true`: the same scope, tenant, validation and conflict checks as the request itself,
 * then 200 with the plan (the engine module's statements for this engine and configuration), and
 * nothing written: no instance, job, name claim, audit or event row, nothing in the queue.
 */
describe('dry runs (?dryRun=true): the plan, and nothing done', function () {
  this.timeout(60_000);
  let stack: Stack;
  let redis: RedisClient;
  let queue: Queue<JobPayload>;
  let existing: { id: string; databaseName: string; instanceName: string };

  before(async () => {
    stack = await startStack({ env: { ODS_TEMPLATE_DATABASE: SMALL_TEMPLATE, ODS_PG_CREATE_STRATEGY: 'file_copy' } });
    redis = redisConnection(REDIS_URL);
    queue = createQueue(redis, stack.apiConfig.redis.prefix, stack.deploymentId);
    existing = await stack.createInstance('existing');
  });
  after(async () => {
    await queue?.close();
    redis?.disconnect();
    await stack?.stop();
  });

  /** Every admin table's rows (counted, and the instances and jobs in full) and the queue's job counts. */
  async function snapshot() {
    const [tables] = await stack.dataSource.query<({ instances: number } & Record<string, unknown>)[]>(`
      SELECT (SELECT count(*) FROM instances)::int AS instances,
             (SELECT count(*) FROM jobs)::int AS jobs,
             (SELECT count(*) FROM database_name_claims)::int AS claims,
             (SELECT count(*) FROM audit_events)::int AS audit,
             (SELECT count(*) FROM events)::int AS events,
             (SELECT json_agg(i ORDER BY i.id) FROM instances i) AS "instanceRows",
             (SELECT json_agg(j ORDER BY j.id) FROM jobs j) AS "jobRows"`);
    return { ...tables, queue: await queue.getJobCounts() };
  }

  /** Runs `requests` and proves they left the admin database and the queue as they were. */
  async function changesNothing<T>(requests: () => Promise<T>): Promise<T> {
    const before = await snapshot();
    expect(before.instances).to.be.greaterThan(0);
    const result = await requests();
    expect(await snapshot()).to.deep.equal(before);
    return result;
  }

  /** A problem without what differs per request (its id). */
  const problemOf = (r: HttpResult) => {
    const { type, title, status, detail, errors } = r.body as Record<string, unknown>;
    return { httpStatus: r.status, type, title, status, detail, errors };
  };

  const plan = (request: Parameters<typeof planOperation>[1]) =>
    planOperation('postgres', request, { createStrategy: 'file_copy' });

  describe('create', () => {
    it('answers 200 with the statements the worker would send, the instance it would record, and records and queues nothing', async () => {
      const databaseName = stack.db('planned');
      const r = await changesNothing(() =>
        stack.request('POST', '/admin/instances?dryRun=true', {
          body: { instanceName: `Planned ${stack.id}`, databaseName },
        }),
      );
      expect(r.status).to.equal(200);
      expect(r.headers.get('location')).to.equal(null);
      expect(r.body).to.include({ dryRun: true, operation: 'create', engine: 'postgres', strategy: 'file_copy' });
      expect(r.body.instance).to.include({
        status: 'PendingCreate',
        databaseName,
        instanceName: `Planned ${stack.id}`,
      });
      expect(r.body.job).to.include({ type: 'create', targetDatabaseName: databaseName });
      // The engine module's own plan, with the ids made for this plan and the deployment's template and strategy.
      const staging = stagingDatabaseName(r.body.job.id);
      expect(r.body.statements).to.deep.equal(
        plan({
          operation: 'create',
          instanceId: r.body.instance.id,
          databaseName,
          templateDatabase: SMALL_TEMPLATE,
          stagingName: staging,
        }).statements,
      );
      const sql = r.body.statements.map((s: { sql: string }) => s.sql);
      expect(sql).to.include(`CREATE DATABASE "${staging}" TEMPLATE "${SMALL_TEMPLATE}" STRATEGY = FILE_COPY`);
      expect(sql).to.include(`CREATE DATABASE "${staging}" TEMPLATE "${SMALL_TEMPLATE}"`);
      // Renamed, then proven writable under its own name (the probe's session then ends on its own time).
      expect(sql).to.include(`ALTER DATABASE "${staging}" RENAME TO "${databaseName}"`);
      expect(r.body.statements.at(-1)).to.deep.include({ sql: WRITE_PROBE, database: databaseName });
      expect(r.body.privileges).to.not.be.empty;
      expect(r.body.notes.join(' '))
        .to.match(/ids made for this plan/)
        .and.match(/EdFi_Admin/);
      // Nothing ran either: no database, and the id leads nowhere.
      expect(await databaseExists(databaseName)).to.equal(false);
      expect(await databaseExists(staging)).to.equal(false);
      expect((await stack.request('GET', `/admin/instances/${r.body.instance.id}`)).status).to.equal(404);
    });

    it('refuses what the real create refuses, with the same problem: 400 for bad input, 409 for a name taken', async () => {
      const bodies = [
        { databaseName: stack.db('no_name') },
        { instanceName: `Reserved ${stack.id}`, databaseName: 'postgres' },
        { instanceName: `Taken db ${stack.id}`, databaseName: existing.databaseName },
        { instanceName: existing.instanceName, databaseName: stack.db('taken_name') },
      ];
      const expected = [400, 400, 409, 409];
      await changesNothing(async () => {
        for (const [i, body] of bodies.entries()) {
          const dry = await stack.request('POST', '/admin/instances?dryRun=true', { body });
          const real = await stack.request('POST', '/admin/instances?dryRun=false', { body });
          expect(dry.status, JSON.stringify(body)).to.equal(expected[i]);
          expect(problemOf(dry)).to.deep.equal(problemOf(real));
        }
      });
    });

    it('refuses a dryRun that is not true or false, and a read-only client, before anything else', async () => {
      await changesNothing(async () => {
        const body = { instanceName: `Maybe ${stack.id}`, databaseName: stack.db('maybe') };
        const maybe = await stack.request('POST', '/admin/instances?dryRun=maybe', { body });
        expect(maybe.status).to.equal(400);
        expect(maybe.body.errors.dryRun).to.deep.equal(['dryRun must be true or false']);
        const twice = await stack.request('POST', '/admin/instances?dryRun=true&dryRun=true', { body });
        expect(twice.status).to.equal(400);
        const readOnly = await stack.request('POST', '/admin/instances?dryRun=true', {
          body,
          token: stack.tokens.read,
        });
        expect(readOnly.status).to.equal(403);
      });
    });
  });

  describe('rename', () => {
    it('answers 200 with the rename statements, and the instance stays as it was', async () => {
      const to = stack.db('existing_new');
      const r = await changesNothing(() =>
        stack.request('PUT', `/admin/instances/${existing.id}?dryRun=true`, { body: { databaseName: to } }),
      );
      expect(r.status).to.equal(200);
      expect(r.body).to.include({ dryRun: true, operation: 'rename', strategy: null });
      expect(r.body.instance).to.include({ id: existing.id, status: 'PendingRename' });
      expect(r.body.job).to.include({
        type: 'rename',
        sourceDatabaseName: existing.databaseName,
        targetDatabaseName: to,
      });
      expect(r.body.statements).to.deep.equal(
        plan({ operation: 'rename', instanceId: existing.id, from: existing.databaseName, to }).statements,
      );
      const now = await stack.request('GET', `/admin/instances/${existing.id}`);
      expect(now.body).to.include({ status: 'Created', databaseName: existing.databaseName });
      expect(await databaseExists(existing.databaseName)).to.equal(true);
    });

    it('says a new instanceName alone starts no job and sends nothing to the ODS server', async () => {
      const r = await changesNothing(() =>
        stack.request('PUT', `/admin/instances/${existing.id}?dryRun=true`, {
          body: { instanceName: `Renamed ${stack.id}` },
        }),
      );
      expect(r.status).to.equal(200);
      expect(r.body).to.include({ operation: 'rename', job: null });
      expect(r.body.statements).to.deep.equal([]);
      expect(r.body.instance).to.include({ instanceName: `Renamed ${stack.id}`, status: 'Created' });
      expect((await stack.request('GET', `/admin/instances/${existing.id}`)).body.instanceName).to.equal(
        existing.instanceName,
      );
    });

    it('refuses what the real rename refuses, with the same problem', async () => {
      const other = await stack.createInstance('other');
      const unknown = '00000000-0000-4000-8000-000000000000';
      const cases: [string, unknown, number][] = [
        [existing.id, { databaseName: 'template1' }, 400],
        [existing.id, {}, 400],
        [existing.id, { databaseName: other.databaseName }, 409],
        [unknown, { databaseName: stack.db('nowhere') }, 404],
      ];
      await changesNothing(async () => {
        for (const [id, body, status] of cases) {
          const dry = await stack.request('PUT', `/admin/instances/${id}?dryRun=true`, { body });
          const real = await stack.request('PUT', `/admin/instances/${id}`, { body });
          expect(dry.status, JSON.stringify(body)).to.equal(status);
          expect(problemOf(dry)).to.deep.equal(problemOf(real));
        }
        const readOnly = await stack.request('PUT', `/admin/instances/${existing.id}?dryRun=true`, {
          body: { databaseName: stack.db('ro') },
          token: stack.tokens.read,
        });
        expect(readOnly.status).to.equal(403);
      });
    });
  });

  describe('delete', () => {
    it('answers 200 with the drop, after a look for the staging copy of its create job, and the instance stays', async () => {
      const jobs = await stack.request('GET', `/admin/instances/${existing.id}/jobs`);
      const createJob = jobs.body.find((j: { type: string }) => j.type === 'create');
      const r = await changesNothing(() => stack.request('DELETE', `/admin/instances/${existing.id}?dryRun=true`));
      expect(r.status).to.equal(200);
      expect(r.body).to.include({ dryRun: true, operation: 'delete' });
      expect(r.body.instance).to.include({ id: existing.id, status: 'PendingDelete' });
      expect(r.body.job).to.include({ type: 'delete', sourceDatabaseName: existing.databaseName, force: false });
      expect(r.body.statements).to.deep.equal(
        plan({
          operation: 'delete',
          instanceId: existing.id,
          databaseName: existing.databaseName,
          stagingNames: [stagingDatabaseName(createJob.id)],
        }).statements,
      );
      expect(r.body.notes.join(' ')).to.match(/unless the request says force=true/);
      const forced = await changesNothing(() =>
        stack.request('DELETE', `/admin/instances/${existing.id}?force=true&dryRun=true`),
      );
      expect(forced.body.job.force).to.equal(true);
      expect(forced.body.notes.join(' ')).to.match(/with force=true it removes/);
      expect((await stack.request('GET', `/admin/instances/${existing.id}`)).body.status).to.equal('Created');
      expect(await databaseExists(existing.databaseName)).to.equal(true);
    });

    it('refuses what the real delete refuses: 400, 403, 404, and 409 while a job is unfinished', async () => {
      const unknown = '00000000-0000-4000-8000-000000000000';
      await changesNothing(async () => {
        const maybe = await stack.request('DELETE', `/admin/instances/${existing.id}?dryRun=maybe`);
        expect(maybe.status).to.equal(400);
        expect(maybe.body.errors.dryRun).to.deep.equal(['dryRun must be true or false']);
        const readOnly = await stack.request('DELETE', `/admin/instances/${existing.id}?dryRun=true`, {
          token: stack.tokens.read,
        });
        expect(readOnly.status).to.equal(403);
        const dry = await stack.request('DELETE', `/admin/instances/${unknown}?dryRun=true`);
        expect(dry.status).to.equal(404);
        expect(problemOf(dry)).to.deep.equal(problemOf(await stack.request('DELETE', `/admin/instances/${unknown}`)));
      });
      // No worker: a real rename stays queued, so the instance has an unfinished job.
      await stack.stopWorkers();
      const renaming = await stack.request('PUT', `/admin/instances/${existing.id}`, {
        body: { databaseName: stack.db('existing_later') },
      });
      expect(renaming.body.status).to.equal('PendingRename');
      await changesNothing(async () => {
        for (const [method, body] of [
          ['DELETE', undefined],
          ['PUT', { databaseName: stack.db('existing_other') }],
        ] as const) {
          const dry = await stack.request(method, `/admin/instances/${existing.id}?dryRun=true`, { body });
          const real = await stack.request(method, `/admin/instances/${existing.id}`, { body });
          expect(dry.status, method).to.equal(409);
          expect(problemOf(dry)).to.deep.equal(problemOf(real));
        }
      });
    });
  });

  describe('when the API lacks the engine settings a plan is built from', () => {
    let bare: Stack;
    before(async () => {
      // The command engine needs its executable's settings to plan; this API was given none.
      bare = await startStack({ worker: false, env: { ODS_ENGINE: 'command' } });
    });
    after(async () => bare?.stop());

    it('still takes real requests, and answers dry runs 503 naming the missing setting, changing nothing', async () => {
      const dry = await bare.request('POST', '/admin/instances?dryRun=true', {
        body: { instanceName: 'Planned', databaseName: bare.db('planned') },
      });
      expect(dry.status).to.equal(503);
      expect(dry.headers.get('content-type')).to.match(/^application\/problem\+json/);
      expect(dry.body.detail).to.include('ODS_COMMAND_PATH is required');
      const listed = await bare.request('GET', '/admin/instances');
      expect(listed.body).to.deep.equal([]);
      const real = await bare.request('POST', '/admin/instances', {
        body: { instanceName: 'Real', databaseName: bare.db('real') },
      });
      expect(real.status).to.equal(201);
    });
  });
});
