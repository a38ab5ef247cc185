import { PassThrough } from 'node:stream';
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import type { Job } from 'bullmq';
import { AuditEventEntity, JobEntity } from '../../shared/database/entities';
import { stagingDatabaseName } from '../../shared/database-names';
import { createAdminDataSource, prepareAdminDatabase } from '../../shared/database/data-source';
import { createQueue, JobPayload, redisConnection } from '../../shared/jobs/queue';
import { createLogger, silentLogger } from '../../shared/logger';
import { PostgresDriver } from '../../worker/engines/postgres/driver';
import { ownershipMarker } from '../../worker/engines/engine';
import { ensureStandInTemplate, STAND_IN_LABEL } from '../../worker/templates/stand-in';
import { CapturedLog } from '../support/log-capture';
import { connectTo, databaseExists, dropDatabases, ownerOf, withServer } from '../support/ods-server';
import { EDFI_TEMPLATE, POSTGRES_URL, SMALL_TEMPLATE, urlFor } from '../support/settings';
import { Stack, startStack } from '../support/stack';
import { TcpProxy } from '../support/tcp-proxy';
import { waitFor } from '../support/wait';

function delivery(job: { id: string; instanceId: string; requestId: string | null }): Job<JobPayload> {
  return {
    id: job.id,
    data: { jobId: job.id, instanceId: job.instanceId, requestId: job.requestId },
  } as Job<JobPayload>;
}

async function makeForeignDatabase(name: string): Promise<void> {
  await withServer((c) => c.query(`CREATE DATABASE ${c.escapeIdentifier(name)}`));
  const db = await connectTo(name);
  await db.query(`CREATE TABLE precious (v text); INSERT INTO precious VALUES ('keep me')`);
  await db.end();
}

async function preciousRow(name: string): Promise<string> {
  const db = await connectTo(name);
  try {
    return (await db.query('SELECT v FROM precious')).rows[0].v;
  } finally {
    await db.end();
  }
}

describe('worker and PostgreSQL driver', () => {
  describe('delivery and idempotency', () => {
    let stack: Stack;
    before(async () => {
      stack = await startStack({ worker: false });
    });
    after(async () => stack.stop());

    it('does the work once when a job is delivered twice at the same time, and ignores a late third delivery', async () => {
      const r = await stack.request('POST', '/admin/instances', {
        body: { instanceName: `Twice ${stack.id}`, databaseName: stack.db('twice') },
      });
      expect(r.status).to.equal(201);
      // Only the deliveries below may run the job: the worker's own BullMQ consumer would otherwise
      // take the queued job too, and win the race now and then. A paused queue hands it nothing.
      const redis = redisConnection(stack.workerConfig.redis.url);
      const queue = createQueue(redis, stack.workerConfig.redis.prefix, stack.deploymentId);
      await queue.pause();
      try {
        const worker = await stack.startWorker({ RECONCILE_INTERVAL_MS: '3600000' });
        await worker.reconciler.stop();
        const job = await stack.dataSource.getRepository(JobEntity).findOneByOrFail({ id: r.body.job.id });
        const results = await Promise.allSettled([
          worker.processor.process(delivery(job)),
          worker.processor.process(delivery(job)),
        ]);
        const outcomes = results.map((x) =>
          x.status === 'fulfilled' ? x.value : (x.reason as Error).constructor.name,
        );
        // One run clones; the other finds the instance locked (BullMQ would retry it) or already finished.
        expect(
          outcomes.filter((o) => o === 'created'),
          `outcomes ${outcomes.join(', ')}`,
        ).to.have.length(1);
        expect(await worker.processor.process(delivery(job))).to.equal('skipped');
      } finally {
        await queue.resume();
        await queue.close();
        redis.disconnect();
      }
      const jobId = r.body.job.id as string;
      const row = await stack.dataSource.getRepository(JobEntity).findOneByOrFail({ id: jobId });
      expect(row).to.include({ status: 'succeeded', attempts: 1 });
      const audit = await stack.dataSource.getRepository(AuditEventEntity).countBy({ jobId, outcome: 'succeeded' });
      expect(audit).to.equal(1);
      expect(await ownerOf(stack.db('twice'))).to.equal(r.body.id);
      await stack.stopWorkers();
    });

    it('ignores a second BullMQ job carrying an already finished job row', async () => {
      const worker = await stack.startWorker();
      const instance = await stack.createInstance('dup_queue');
      const redis = redisConnection(stack.workerConfig.redis.url);
      const queue = createQueue(redis, stack.workerConfig.redis.prefix, stack.deploymentId);
      try {
        const extra = await queue.add(
          'create',
          { jobId: instance.job.id, instanceId: instance.id, requestId: null },
          { jobId: `dup-${randomUUID()}` },
        );
        await waitFor(async () => (await extra.getState()) === 'completed', 'the duplicate to complete');
        const jobs = await stack.request('GET', `/admin/instances/${instance.id}/jobs`);
        expect(jobs.body).to.have.length(1);
        expect(jobs.body[0]).to.include({ status: 'succeeded', attempts: 1 });
      } finally {
        await queue.close();
        redis.disconnect();
        await worker.stop();
        await stack.stopWorkers();
      }
    });

    it('resumes a create whose clone finished before the worker crashed', async () => {
      const r = await stack.request('POST', '/admin/instances', {
        body: { instanceName: `Resume ${stack.id}`, databaseName: stack.db('resume') },
      });
      // What a crash right after CREATE DATABASE leaves: the staging clone, unmarked, not yet renamed.
      const staging = stagingDatabaseName(r.body.job.id);
      await withServer((c) =>
        c.query(`CREATE DATABASE ${c.escapeIdentifier(staging)} TEMPLATE ${c.escapeIdentifier(EDFI_TEMPLATE)}`),
      );
      await stack.startWorker();
      await stack.waitForStatus(r.body.id, 'Created');
      expect(await databaseExists(staging)).to.equal(false);
      expect(await ownerOf(stack.db('resume'))).to.equal(r.body.id);
      await stack.stopWorkers();
    });
  });

  describe('never clobber', () => {
    let stack: Stack;
    before(async () => {
      stack = await startStack();
    });
    after(async () => stack.stop());

    it('refuses to clone over a database it does not own, and leaves that database untouched', async () => {
      const name = stack.db('foreign');
      await makeForeignDatabase(name);
      const r = await stack.request('POST', '/admin/instances', {
        body: { instanceName: `Foreign ${stack.id}`, databaseName: name },
      });
      expect(r.status).to.equal(201);
      const failed = await stack.waitForStatus(r.body.id, 'CreateFailed');
      expect(failed.lastError).to.match(/not managed by ODS Instance Manager.*left untouched/);
      expect(await preciousRow(name)).to.equal('keep me');
      expect(await ownerOf(name)).to.equal(null);
      expect(await databaseExists(stagingDatabaseName(r.body.job.id))).to.equal(false);

      // Deleting the failed instance retires the record and still leaves the foreign database alone.
      const del = await stack.request('DELETE', `/admin/instances/${r.body.id}`);
      expect(del.status).to.equal(200);
      await stack.waitForStatus(r.body.id, 'Deleted');
      expect(await preciousRow(name)).to.equal('keep me');
    });

    it('refuses to rename onto a database it does not own; the instance keeps its database', async () => {
      const instance = await stack.createInstance('rename_src');
      const foreign = stack.db('rename_foreign');
      await makeForeignDatabase(foreign);
      await stack.request('PUT', `/admin/instances/${instance.id}`, { body: { databaseName: foreign } });
      const failed = await stack.waitForStatus(instance.id, 'RenameFailed');
      expect(failed.databaseName).to.equal(instance.databaseName);
      expect(failed.lastError).to.match(/refusing to rename onto/);
      expect(await preciousRow(foreign)).to.equal('keep me');
      expect(await ownerOf(instance.databaseName)).to.equal(instance.id);
      // The source accepts connections again, and the instance can be renamed elsewhere.
      await (await connectTo(instance.databaseName)).end();
      const retry = await stack.request('PUT', `/admin/instances/${instance.id}`, {
        body: { databaseName: stack.db('rename_ok') },
      });
      expect(retry.status).to.equal(200);
      const done = await stack.waitForStatus(instance.id, 'Created');
      expect(done.databaseName).to.equal(stack.db('rename_ok'));
    });

    it('refuses to drop a database whose marker names another instance', async () => {
      const instance = await stack.createInstance('stolen');
      await withServer((c) =>
        c.query(
          `COMMENT ON DATABASE ${c.escapeIdentifier(instance.databaseName)} IS '{"managedBy":"ods-instance-manager","instanceId":"${randomUUID()}"}'`,
        ),
      );
      await stack.request('DELETE', `/admin/instances/${instance.id}`);
      const failed = await stack.waitForStatus(instance.id, 'DeleteFailed');
      expect(failed.lastError).to.match(/refusing to drop .* belongs to instance/);
      expect(await databaseExists(instance.databaseName)).to.equal(true);
    });
  });

  describe('transient errors', () => {
    let stack: Stack;
    const lines: string[] = [];
    before(async () => {
      const stream = new PassThrough();
      stream.on('data', (chunk) => lines.push(String(chunk)));
      stack = await startStack({
        env: {
          // The template is chosen when the create is accepted (ODS_TEMPLATES); `gone` names none on the server.
          ODS_TEMPLATES: JSON.stringify([
            { name: 'small', database: SMALL_TEMPLATE },
            { name: 'gone', database: 'odsim_no_such_template' },
          ]),
          TRANSIENT_RETRY_ATTEMPTS: '40',
          TRANSIENT_RETRY_BASE_MS: '100',
          TRANSIENT_RETRY_MAX_MS: '300',
        },
        logger: createLogger('test', 'info', stream),
      });
    });
    after(async () => stack.stop());

    it('retries a clone while the template is in use (SQLSTATE 55006), then succeeds', async () => {
      const session = await connectTo(SMALL_TEMPLATE);
      let id: string;
      try {
        const r = await stack.request('POST', '/admin/instances', {
          body: { instanceName: `Busy template ${stack.id}`, databaseName: stack.db('tpl_busy') },
        });
        id = r.body.id;
        await waitFor(
          async () =>
            lines.some(
              (l) => l.includes('"event":"job.retrying"') && l.includes('"code":"55006"') && l.includes(r.body.job.id),
            ),
          'a retry on 55006',
        );
        expect((await stack.request('GET', `/admin/instances/${id}`)).body.status).to.equal('CreateInProgress');
      } finally {
        await session.end();
      }
      const done = await stack.waitForStatus(id, 'Created');
      expect(done.lastError).to.equal(null);
      expect(await databaseExists(stack.db('tpl_busy'))).to.equal(true);
    });

    it('fails with the reason once retries are exhausted', async () => {
      await stack.stopWorkers();
      await stack.startWorker({ TRANSIENT_RETRY_ATTEMPTS: '3' });
      const session = await connectTo(SMALL_TEMPLATE);
      try {
        const r = await stack.request('POST', '/admin/instances', {
          body: { instanceName: `Exhausted ${stack.id}`, databaseName: stack.db('tpl_exhausted') },
        });
        const failed = await stack.waitForStatus(r.body.id, 'CreateFailed');
        expect(failed.lastError).to.match(/being accessed by other users/);
        expect(await databaseExists(stack.db('tpl_exhausted'))).to.equal(false);
        const job = await stack.request('GET', `/admin/jobs/${r.body.job.id}`);
        expect(job.body.status).to.equal('failed');
        expect(job.body.error).to.equal(failed.lastError);
      } finally {
        await session.end();
      }
    });

    it('fails at once, without retrying, when the template does not exist', async () => {
      const before = lines.length;
      const r = await stack.request('POST', '/admin/instances', {
        body: { instanceName: `No template ${stack.id}`, databaseName: stack.db('no_tpl'), template: 'gone' },
      });
      const failed = await stack.waitForStatus(r.body.id, 'CreateFailed');
      expect(failed.lastError).to.match(/template database "odsim_no_such_template" does not exist/);
      expect(lines.slice(before).some((l) => l.includes('job.retrying') && l.includes(r.body.job.id))).to.equal(false);
    });
  });

  describe('PostgreSQL 11–12 drop path', () => {
    it('drops a database with connected sessions by shutting them out and terminating them first', async () => {
      const name = `t_legacy_${randomUUID().slice(0, 8)}`;
      const driver = new PostgresDriver({ serverUrl: POSTGRES_URL, log: silentLogger(), legacyDrop: true });
      const instanceId = randomUUID();
      try {
        await driver.create({
          instanceId,
          databaseName: name,
          templateDatabase: SMALL_TEMPLATE,
          stagingName: `${name}_stg`,
        });
        const app = await connectTo(name);
        app.on('error', () => undefined);
        expect(
          (await driver.drop({ instanceId, databaseName: name, stagingNames: [], ownsNothing: false })).outcome,
        ).to.equal('dropped');
        expect(await databaseExists(name)).to.equal(false);
        expect(
          await driver.drop({ instanceId, databaseName: name, stagingNames: [], ownsNothing: false }),
        ).to.deep.equal({ outcome: 'already-absent', warnings: [] });
        await app.end().catch(() => undefined);
      } finally {
        await driver.close();
        await dropDatabases([name]);
      }
    });
  });

  describe('start-up', () => {
    it('lets several processes create and migrate a new admin database at the same moment', async () => {
      const name = `odsim_t_race_${randomUUID().slice(0, 8)}`;
      const settings = { url: urlFor(name), connectTimeoutMs: 3000, poolSize: 3 };
      const sources = Array.from({ length: 5 }, () => createAdminDataSource(settings));
      try {
        await Promise.all(sources.map((s) => prepareAdminDatabase(s, settings, silentLogger())));
        const applied = await sources[0]!.query('SELECT count(*)::int AS n FROM schema_migrations');
        expect(applied[0].n, 'each migration recorded once').to.equal(sources[0]!.migrations.length);
        expect(await sources[1]!.getRepository(JobEntity).count()).to.equal(0);
      } finally {
        await Promise.all(sources.filter((s) => s.isInitialized).map((s) => s.destroy()));
        await dropDatabases([name]);
      }
    });

    it('waits for an admin database server that is not reachable yet, instead of failing', async () => {
      const proxy = await new TcpProxy(Number(new URL(POSTGRES_URL).port || 5432)).start();
      proxy.cutOff();
      const name = `odsim_t_wait_${randomUUID().slice(0, 8)}`;
      const url = new URL(urlFor(name));
      url.port = String(proxy.port);
      const settings = { url: url.toString(), connectTimeoutMs: 1000, poolSize: 2 };
      const source = createAdminDataSource(settings);
      try {
        let ready = false;
        const starting = prepareAdminDatabase(source, settings, silentLogger(), {
          attempts: 50,
          baseDelayMs: 100,
          maxDelayMs: 300,
        }).then(() => {
          ready = true;
        });
        await new Promise((resolve) => setTimeout(resolve, 1500));
        expect(ready, 'ready while the server is unreachable').to.equal(false);
        proxy.restore();
        await starting;
        expect(await source.getRepository(JobEntity).count()).to.equal(0);
      } finally {
        if (source.isInitialized) await source.destroy();
        await proxy.stop();
        await dropDatabases([name]);
      }
    });

    it('builds a clearly labelled stand-in template once, and leaves an existing one alone', async () => {
      const name = `t_standin_${randomUUID().slice(0, 8)}`;
      try {
        expect(
          await ensureStandInTemplate(POSTGRES_URL, name, { tables: 9, views: 1, rowsPerTable: 1 }, silentLogger()),
        ).to.equal(true);
        expect(
          await ensureStandInTemplate(POSTGRES_URL, name, { tables: 9, views: 1, rowsPerTable: 1 }, silentLogger()),
        ).to.equal(false);
        const comment = await withServer(
          async (c) =>
            (
              await c.query(`SELECT shobj_description(oid, 'pg_database') AS c FROM pg_database WHERE datname = $1`, [
                name,
              ])
            ).rows[0].c,
        );
        expect(comment).to.equal(STAND_IN_LABEL);
        const db = await connectTo(name);
        const note = (await db.query('SELECT note FROM util.stand_in')).rows[0].note;
        await db.end();
        expect(note).to.match(/NOT an Ed-Fi ODS/);
      } finally {
        await dropDatabases([name]);
      }
    });
  });

  describe('a lock held on a managed database (lock_timeout)', () => {
    let stack: Stack;
    const log = new CapturedLog('test', 'info');
    before(async () => {
      stack = await startStack({ logger: log.logger, env: { ODS_LOCK_TIMEOUT_MS: '1000' } });
    });
    after(async () => stack.stop());

    /** What a session that changes a database's comment and forgets to commit holds: a lock on the database. */
    async function holdLockOn(database: string, instanceId: string) {
      const holder = await connectTo('postgres');
      await holder.query('BEGIN');
      await holder.query(
        `COMMENT ON DATABASE ${holder.escapeIdentifier(database)} IS ${holder.escapeLiteral(ownershipMarker(instanceId))}`,
      );
      return {
        release: async () => {
          await holder.query('COMMIT').catch(() => undefined);
          await holder.end();
        },
      };
    }

    const retriedOnLock = (jobId: string) =>
      waitFor(
        async () => log.events('job.retrying').find((e) => e.jobId === jobId && e.code === '55P03'),
        `a job.retrying with code 55P03 for job ${jobId}`,
        30_000,
      );

    it('retries a drop that waits on a lock (55P03), and finishes once the lock is released', async () => {
      const instance = await stack.createInstance('locked_drop');
      const lock = await holdLockOn(instance.databaseName, instance.id);
      try {
        const del = await stack.request('DELETE', `/admin/instances/${instance.id}`);
        expect(del.status).to.equal(200);
        await retriedOnLock(del.body.job.id);
        expect((await stack.request('GET', `/admin/instances/${instance.id}`)).body.status).to.equal(
          'DeleteInProgress',
        );
      } finally {
        await lock.release();
      }
      await stack.waitForStatus(instance.id, 'Deleted');
      expect(await databaseExists(instance.databaseName)).to.equal(false);
    });

    it('retries a rename that waits on a lock (55P03), and finishes once the lock is released', async () => {
      const instance = await stack.createInstance('locked_rename');
      const to = stack.db('locked_rename_to');
      const lock = await holdLockOn(instance.databaseName, instance.id);
      try {
        const put = await stack.request('PUT', `/admin/instances/${instance.id}`, { body: { databaseName: to } });
        expect(put.status).to.equal(200);
        await retriedOnLock(put.body.job.id);
      } finally {
        await lock.release();
      }
      const done = await stack.waitForStatus(instance.id, 'Created');
      expect(done.databaseName).to.equal(to);
      await (await connectTo(to)).end();
      expect(await ownerOf(to)).to.equal(instance.id);
    });
  });

  describe('a database renamed by hand', () => {
    let stack: Stack;
    const log = new CapturedLog('test', 'info');
    before(async () => {
      stack = await startStack({ logger: log.logger });
    });
    after(async () => stack.stop());

    it('deletes the instance, leaves the renamed database alone, and says so as a warning on the job', async () => {
      const instance = await stack.createInstance('by_hand');
      const moved = stack.db('by_hand_moved');
      await withServer((c) =>
        c.query(`ALTER DATABASE ${c.escapeIdentifier(instance.databaseName)} RENAME TO ${c.escapeIdentifier(moved)}`),
      );
      const del = await stack.request('DELETE', `/admin/instances/${instance.id}`);
      expect(del.status).to.equal(200);
      await stack.waitForStatus(instance.id, 'Deleted');

      const job = (await stack.request('GET', `/admin/jobs/${del.body.job.id}`)).body;
      expect(job.status).to.equal('succeeded');
      expect(job.warnings).to.be.an('array').with.length(1);
      expect(job.warnings[0]).to.include(moved).and.include(instance.id);
      expect(await ownerOf(moved), 'the renamed database is kept, marker and all').to.equal(instance.id);
      const logged = log.events('job.warning').filter((e) => e.jobId === del.body.job.id);
      expect(logged).to.have.length(1);
      expect(logged[0]!.warnings).to.deep.equal(job.warnings);
      const audit = await stack.dataSource
        .getRepository(AuditEventEntity)
        .findOneByOrFail({ jobId: del.body.job.id, outcome: 'succeeded' });
      expect(JSON.parse(audit.details!))
        .to.include({ outcome: 'already-absent' })
        .and.have.deep.property('warnings', job.warnings);
      // A job without anything to say carries an empty list.
      expect((await stack.request('GET', `/admin/jobs/${instance.job.id}`)).body.warnings).to.deep.equal([]);
    });
  });
});
