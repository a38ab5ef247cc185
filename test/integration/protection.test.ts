import { expect } from 'chai';
import { AuditEventEntity, InstanceEntity, JobEntity } from '../../shared/database/entities';
import { createQueue, queueName, redisConnection } from '../../shared/jobs/queue';
import { expectServerMatchesRecords } from '../support/consistency';
import { connectTo, databaseExists, withServer } from '../support/ods-server';
import { REDIS_URL } from '../support/settings';
import { type HttpResult, type Stack, startStack } from '../support/stack';
import { waitFor } from '../support/wait';

function expectProblem(r: HttpResult, status: number, detail?: RegExp): void {
  expect(r.status, JSON.stringify(r.body)).to.equal(status);
  expect(r.headers.get('content-type')).to.match(/^application\/problem\+json/);
  if (detail) expect(r.body.detail).to.match(detail);
}

/** What a refused request must leave as it was: the instance's row, its jobs, the audit log and its database. */
async function snapshot(stack: Stack, instanceId: string) {
  const instance = await stack.dataSource.getRepository(InstanceEntity).findOneByOrFail({ id: instanceId });
  return {
    instance: { ...instance, updatedAt: instance.updatedAt.toISOString() },
    jobs: (await stack.jobsRows()).map((j) => `${j.id}:${j.status}:${j.attempts}`).sort(),
    audit: await stack.dataSource.getRepository(AuditEventEntity).count(),
    databaseExists: await databaseExists(instance.databaseName),
  };
}

const PROTECTED = /protected.*Unprotect it first \(POST \/admin\/instances\/[0-9a-f-]+\/unprotect\)/;

describe('instance protection', () => {
  let stack: Stack;
  before(async () => {
    // Short retries, so that a held lock fails a delete quickly.
    stack = await startStack({ worker: false });
    await stack.startWorker({ TRANSIENT_RETRY_ATTEMPTS: '2', ODS_LOCK_TIMEOUT_MS: '200' });
  });
  after(async () => stack.stop());

  const protect = (id: string, token?: string) => stack.request('POST', `/admin/instances/${id}/protect`, { token });
  const unprotect = (id: string) => stack.request('POST', `/admin/instances/${id}/unprotect`);

  it('protects and unprotects an instance, with links that follow, and audits each change once', async () => {
    const instance = await stack.createInstance('round_trip');
    expect(instance.protected).to.equal(false);
    expect(instance._links).to.include.keys('delete', 'rename', 'protect');
    expect(instance._links).not.to.have.key('unprotect');

    const protectedNow = await protect(instance.id);
    expect(protectedNow.status, JSON.stringify(protectedNow.body)).to.equal(200);
    expect(protectedNow.body.protected).to.equal(true);
    expect(protectedNow.body._links).to.include.keys('self', 'jobs', 'unprotect');
    expect(protectedNow.body._links).not.to.have.any.keys('delete', 'rename', 'protect');
    expect((await protect(instance.id)).body.protected).to.equal(true); // again: no change, no second audit row

    const listed = await stack.request('GET', '/admin/instances?protected=true');
    expect(listed.body.map((i: { id: string }) => i.id)).to.deep.equal([instance.id]);
    const others = await stack.request('GET', '/admin/instances?protected=false');
    expect(others.body.map((i: { id: string }) => i.id)).not.to.include(instance.id);

    const unprotectedNow = await unprotect(instance.id);
    expect(unprotectedNow.status).to.equal(200);
    expect(unprotectedNow.body.protected).to.equal(false);
    expect(unprotectedNow.body._links).to.include.keys('delete', 'rename', 'protect');

    const audit = await stack.dataSource
      .getRepository(AuditEventEntity)
      .find({ where: { instanceId: instance.id }, order: { occurredAt: 'ASC' } });
    const changes = audit.filter((a) => /protect/.test(a.action));
    const actor = audit.find((a) => a.action === 'instance.create')!.actor; // the same full-access client
    expect(changes.map((a) => `${a.action}:${a.outcome}:${a.actor}`)).to.deep.equal([
      `instance.protect:succeeded:${actor}`,
      `instance.unprotect:succeeded:${actor}`,
    ]);
    expect(JSON.parse(changes[0]!.details!)).to.deep.include({ protected: { from: false, to: true } });
    expect(JSON.parse(changes[1]!.details!)).to.deep.include({ protected: { from: true, to: false } });
    expect(changes[0]!.requestId).to.be.a('string');
  });

  it('refuses delete (force, dryRun too) and rename (either name) of a protected instance with 409, and changes nothing', async () => {
    const instance = await stack.createInstance('refusals');
    await protect(instance.id);
    const before = await snapshot(stack, instance.id);
    const path = `/admin/instances/${instance.id}`;
    for (const query of ['', '?force=true', '?dryRun=true', '?force=true&dryRun=true'])
      expectProblem(await stack.request('DELETE', `${path}${query}`), 409, PROTECTED);
    for (const body of [
      { databaseName: stack.db('refusals_2') },
      { instanceName: `Renamed ${stack.id}` },
      { instanceName: `Renamed ${stack.id}`, databaseName: stack.db('refusals_3') },
    ]) {
      expectProblem(await stack.request('PUT', path, { body }), 409, /cannot be renamed/);
      expectProblem(await stack.request('PUT', `${path}?dryRun=true`, { body }), 409, /cannot be renamed/);
    }
    expect(await snapshot(stack, instance.id)).to.deep.equal(before);
    expect(before.databaseExists).to.equal(true);
    // The same names are no change: nothing to refuse.
    const same = await stack.request('PUT', path, { body: { instanceName: instance.instanceName } });
    expect(same.status).to.equal(200);
    await expectServerMatchesRecords(stack);
  });

  it('refuses to retry a failed rename or delete of a protected instance, also from the queue dashboard', async () => {
    // A rename that fails: a database the manager does not own holds the new name.
    const renamed = await stack.createInstance('retry_rename');
    const taken = stack.db('retry_rename_taken');
    await withServer((c) => c.query(`CREATE DATABASE ${c.escapeIdentifier(taken)}`));
    try {
      await stack.request('PUT', `/admin/instances/${renamed.id}`, { body: { databaseName: taken } });
      const failed = await stack.waitForStatus(renamed.id, 'RenameFailed');
      expect(failed._links).to.include.keys('retry', 'protect');
      const protectedNow = await protect(renamed.id);
      expect(protectedNow.body._links).not.to.have.any.keys('retry', 'delete', 'rename');
      const before = await snapshot(stack, renamed.id);
      expectProblem(await stack.request('POST', `/admin/instances/${renamed.id}/retry`), 409, /cannot be renamed/);
      expect(await snapshot(stack, renamed.id)).to.deep.equal(before);
    } finally {
      await withServer((c) => c.query(`DROP DATABASE IF EXISTS ${c.escapeIdentifier(taken)} WITH (FORCE)`));
    }

    // A delete that fails: another session holds a lock on the database until the drop gives up.
    const deleted = await stack.createInstance('retry_delete');
    const holder = await connectTo('postgres');
    let deleteJobId: string;
    try {
      const marker = (
        await holder.query<{ m: string }>(
          `SELECT shobj_description(oid, 'pg_database') AS m FROM pg_database WHERE datname = $1`,
          [deleted.databaseName],
        )
      ).rows[0]!.m;
      await holder.query('BEGIN');
      await holder.query(
        `COMMENT ON DATABASE ${holder.escapeIdentifier(deleted.databaseName)} IS ${holder.escapeLiteral(marker)}`,
      );
      deleteJobId = (await stack.request('DELETE', `/admin/instances/${deleted.id}`)).body.job.id;
      await stack.waitForStatus(deleted.id, 'DeleteFailed');
    } finally {
      await holder.query('ROLLBACK').catch(() => undefined);
      await holder.end();
    }
    expect((await protect(deleted.id)).body.protected).to.equal(true);
    const before = await snapshot(stack, deleted.id);
    expectProblem(await stack.request('POST', `/admin/instances/${deleted.id}/retry`), 409, /cannot be deleted/);
    expect(await snapshot(stack, deleted.id)).to.deep.equal(before);

    // Every dashboard route that could run the delete job again, as a full-access client: the
    // worker runs no finished job row, so the protected instance and its database stay.
    const queue = createQueue(redisConnection(REDIS_URL), stack.apiConfig.redis.prefix, stack.deploymentId);
    try {
      const q = encodeURIComponent(queueName(stack.deploymentId));
      for (const path of [
        `/${deleteJobId}/retry`,
        '/retry/completed',
        '/retry/failed',
        '/promote',
        `/${deleteJobId}/clean`,
      ]) {
        const r = await fetch(`${stack.baseUrl}/admin/queues/api/queues/${q}${path}`, {
          method: 'PUT',
          headers: { authorization: `Bearer ${stack.tokens.full}`, accept: 'application/json' },
        });
        await r.text();
        expect(r.status, path).to.be.oneOf([200, 204]);
      }
      // Refused outright: a job forged from the dashboard.
      const forged = await fetch(`${stack.baseUrl}/admin/queues/api/queues/${q}/add`, {
        method: 'POST',
        headers: { authorization: `Bearer ${stack.tokens.full}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'delete', data: { id: deleteJobId, type: 'delete', instanceId: deleted.id } }),
      });
      expect(forged.status).to.equal(403);
      await waitFor(async () => {
        const counts = await queue.getJobCounts('waiting', 'active', 'delayed');
        return (counts.waiting ?? 0) + (counts.active ?? 0) + (counts.delayed ?? 0) === 0;
      }, 'the retried jobs to be delivered');
    } finally {
      await queue.close();
      await queue.disconnect();
    }
    expect(await snapshot(stack, deleted.id)).to.deep.equal(before);
    expect(before.databaseExists).to.equal(true);
    await expectServerMatchesRecords(stack);
  });

  it('refuses to protect an instance with an unfinished job (409), and leaves it unprotected', async () => {
    const instance = await stack.createInstance('busy');
    // Holding the worker's per-instance lock keeps the rename pending for as long as the test needs.
    const session = await connectTo(`odsim_t_${stack.id}`);
    try {
      await session.query('SELECT pg_advisory_lock(hashtextextended($1, 0))', [`odsim:instance:${instance.id}`]);
      const renamed = await stack.request('PUT', `/admin/instances/${instance.id}`, {
        body: { databaseName: stack.db('busy_2') },
      });
      expect(renamed.body.status).to.equal('PendingRename');
      expect(renamed.body._links).not.to.have.key('protect');
      const before = await snapshot(stack, instance.id);
      expectProblem(await protect(instance.id), 409, /unfinished job/);
      expect(await snapshot(stack, instance.id)).to.deep.equal(before);
      expect(before.instance.protected).to.equal(false);
    } finally {
      await session.end();
    }
    await stack.waitForStatus(instance.id, 'Created');
    expect((await protect(instance.id)).body.protected).to.equal(true);
  });

  it('has the worker refuse a delete job of an instance protected behind the API’s back, and keep its database', async () => {
    const instance = await stack.createInstance('worker_refuses');
    const session = await connectTo(`odsim_t_${stack.id}`);
    try {
      await session.query('SELECT pg_advisory_lock(hashtextextended($1, 0))', [`odsim:instance:${instance.id}`]);
      expect((await stack.request('DELETE', `/admin/instances/${instance.id}`)).body.status).to.equal('PendingDelete');
      // As an API replica older than protection, or a hand edit, could leave it: protected with a delete queued.
      await stack.dataSource.getRepository(InstanceEntity).update({ id: instance.id }, { protected: true });
    } finally {
      await session.end();
    }
    const failed = await stack.waitForStatus(instance.id, 'DeleteFailed');
    expect(failed.lastError).to.match(/protected/);
    expect(await databaseExists(instance.databaseName)).to.equal(true);
    expectProblem(await stack.request('POST', `/admin/instances/${instance.id}/retry`), 409, PROTECTED);
    await expectServerMatchesRecords(stack);
  });

  it('refuses protect and unprotect to a read-only client (403), and to a deleted instance (409)', async () => {
    const instance = await stack.createInstance('read_only');
    expectProblem(await protect(instance.id, stack.tokens.read), 403);
    expectProblem(
      await stack.request('POST', `/admin/instances/${instance.id}/unprotect`, { token: stack.tokens.read }),
      403,
    );
    expect((await stack.request('GET', `/admin/instances/${instance.id}`)).body.protected).to.equal(false);
    await stack.request('DELETE', `/admin/instances/${instance.id}`);
    await stack.waitForStatus(instance.id, 'Deleted');
    expectProblem(await protect(instance.id), 409, /deleted/);
    expectProblem(await stack.request('GET', `/admin/instances/${instance.id}/protect`), 405);
  });

  it('deletes an instance once it is unprotected', async () => {
    const instance = await stack.createInstance('unprotect_then_delete');
    await protect(instance.id);
    expectProblem(await stack.request('DELETE', `/admin/instances/${instance.id}`), 409, PROTECTED);
    await unprotect(instance.id);
    const deleted = await stack.request('DELETE', `/admin/instances/${instance.id}`);
    expect(deleted.status, JSON.stringify(deleted.body)).to.equal(200);
    await stack.waitForStatus(instance.id, 'Deleted');
    expect(await databaseExists(instance.databaseName)).to.equal(false);
    await expectServerMatchesRecords(stack);
  });
});

describe('a deployment with instance deletes turned off (INSTANCE_DELETES_ENABLED=false)', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ env: { INSTANCE_DELETES_ENABLED: 'false' } });
  });
  after(async () => stack.stop());

  it('reports the switch in GET /admin/settings', async () => {
    const settings = await stack.request('GET', '/admin/settings', { token: stack.tokens.read });
    expect(settings.body.instanceDeletesEnabled).to.equal(false);
  });

  it('refuses every delete (force, dryRun, retry of a failed delete) with 409, shows no delete link, and changes nothing', async () => {
    const instances = [await stack.createInstance('off_a'), await stack.createInstance('off_b')];
    const unprotectedOne = instances[0]!;
    await stack.request('POST', `/admin/instances/${instances[1]!.id}/protect`);
    for (const instance of instances) {
      const shown = (await stack.request('GET', `/admin/instances/${instance.id}`)).body;
      expect(shown._links).not.to.have.key('delete');
      const before = await snapshot(stack, instance.id);
      for (const query of ['', '?force=true', '?dryRun=true'])
        expectProblem(
          await stack.request('DELETE', `/admin/instances/${instance.id}${query}`),
          409,
          /INSTANCE_DELETES_ENABLED=false/,
        );
      expect(await snapshot(stack, instance.id)).to.deep.equal(before);
    }
    const listed = await stack.request('GET', '/admin/instances');
    for (const item of listed.body) expect(item._links).not.to.have.key('delete');
    // Renames are not deletes: still possible.
    const renamed = await stack.request('PUT', `/admin/instances/${unprotectedOne.id}`, {
      body: { databaseName: stack.db('off_a2') },
    });
    expect(renamed.status, JSON.stringify(renamed.body)).to.equal(200);
    await stack.waitForStatus(unprotectedOne.id, 'Created');

    // A delete that failed before the switch was turned off is not retried either.
    await stack.dataSource.getRepository(InstanceEntity).update({ id: unprotectedOne.id }, { status: 'DeleteFailed' });
    const before = await snapshot(stack, unprotectedOne.id);
    expectProblem(
      await stack.request('POST', `/admin/instances/${unprotectedOne.id}/retry`),
      409,
      /INSTANCE_DELETES_ENABLED=false/,
    );
    expect(await snapshot(stack, unprotectedOne.id)).to.deep.equal(before);
    expect(
      await stack.dataSource.getRepository(JobEntity).countBy({ instanceId: unprotectedOne.id, type: 'delete' }),
    ).to.equal(0);
  });
});
