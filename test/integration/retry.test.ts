import { expect } from 'chai';
import { AuditEventEntity, InstanceEntity, JobEntity } from '../../shared/database/entities';
import { expectServerMatchesRecords } from '../support/consistency';
import { connectTo, withServer } from '../support/ods-server';
import { type HttpResult, type Stack, startStack } from '../support/stack';

async function makeForeignDatabase(name: string): Promise<void> {
  await withServer((c) => c.query(`CREATE DATABASE ${c.escapeIdentifier(name)}`));
}

async function dropForeignDatabase(name: string): Promise<void> {
  await withServer((c) => c.query(`DROP DATABASE IF EXISTS ${c.escapeIdentifier(name)} WITH (FORCE)`));
}

function expectProblem(r: HttpResult, status: number): void {
  expect(r.status, JSON.stringify(r.body)).to.equal(status);
  expect(r.headers.get('content-type')).to.match(/^application\/problem\+json/);
}

async function rowCounts(stack: Stack) {
  return {
    instances: await stack.dataSource.getRepository(InstanceEntity).count(),
    jobs: await stack.dataSource.getRepository(JobEntity).count(),
  };
}

describe('retrying a failed operation', () => {
  let stack: Stack;
  before(async () => {
    // Short retries, so that a held lock fails a delete quickly.
    stack = await startStack({ worker: false });
    await stack.startWorker({ TRANSIENT_RETRY_ATTEMPTS: '2', ODS_LOCK_TIMEOUT_MS: '200' });
  });
  after(async () => stack.stop());

  it('runs a failed create again once the cause is gone, as a new job with its own audit row', async () => {
    const name = stack.db('retry_create');
    await makeForeignDatabase(name);
    const r = await stack.request('POST', '/admin/instances', {
      body: { instanceName: `Retry create ${stack.id}`, databaseName: name },
    });
    const failed = await stack.waitForStatus(r.body.id, 'CreateFailed');
    expect(failed._links.retry.href).to.equal(`/admin/instances/${r.body.id}/retry`);
    await dropForeignDatabase(name); // the operator removes what was in the way

    const retried = await stack.request('POST', `/admin/instances/${r.body.id}/retry`);
    expect(retried.status, JSON.stringify(retried.body)).to.equal(200);
    expect(retried.body).to.include({ status: 'PendingCreate', databaseName: name });
    expect(retried.body.job.id).to.not.equal(r.body.job.id);
    const done = await stack.waitForStatus(r.body.id, 'Created');
    expect(done._links.retry).to.equal(undefined);
    const jobs = (await stack.request('GET', `/admin/instances/${r.body.id}/jobs`)).body as {
      type: string;
      status: string;
    }[];
    expect(jobs.map((j) => `${j.type}:${j.status}`)).to.deep.equal(['create:succeeded', 'create:failed']);
    const audit = await stack.dataSource
      .getRepository(AuditEventEntity)
      .findOneByOrFail({ jobId: retried.body.job.id, outcome: 'accepted' });
    expect(JSON.parse(audit.details ?? '{}')).to.include({ retryOf: r.body.job.id });
    await expectServerMatchesRecords(stack);
  });

  it('runs a failed rename again, claiming its new name again', async () => {
    const instance = await stack.createInstance('retry_rename_from');
    const to = stack.db('retry_rename_to');
    await makeForeignDatabase(to);
    await stack.request('PUT', `/admin/instances/${instance.id}`, { body: { databaseName: to } });
    await stack.waitForStatus(instance.id, 'RenameFailed');
    await dropForeignDatabase(to);

    const retried = await stack.request('POST', `/admin/instances/${instance.id}/retry`);
    expect(retried.status, JSON.stringify(retried.body)).to.equal(200);
    expect(retried.body.status).to.equal('PendingRename');
    const done = await stack.waitForStatus(instance.id, 'Created');
    expect(done).to.include({ databaseName: to, previousDatabaseName: instance.databaseName });
    await expectServerMatchesRecords(stack);
  });

  it('answers 409 to a rename retry whose new name another instance took meanwhile, and changes nothing', async () => {
    const instance = await stack.createInstance('retry_taken_from');
    const to = stack.db('retry_taken_to');
    await makeForeignDatabase(to);
    await stack.request('PUT', `/admin/instances/${instance.id}`, { body: { databaseName: to } });
    await stack.waitForStatus(instance.id, 'RenameFailed');
    await dropForeignDatabase(to);
    await stack.createInstance('retry_taken_to'); // another instance now holds the name
    const before = await rowCounts(stack);
    expectProblem(await stack.request('POST', `/admin/instances/${instance.id}/retry`), 409);
    expect(await rowCounts(stack)).to.deep.equal(before);
    expect((await stack.request('GET', `/admin/instances/${instance.id}`)).body.status).to.equal('RenameFailed');
  });

  it('runs a failed delete again once the lock that failed it is gone', async () => {
    const instance = await stack.createInstance('retry_delete');
    // Another session holds a lock on the database until it ends: the drop's lock_timeout fires, twice.
    const holder = await connectTo('postgres');
    try {
      const marker = (
        await holder.query<{ m: string }>(
          `SELECT shobj_description(oid, 'pg_database') AS m FROM pg_database WHERE datname = $1`,
          [instance.databaseName],
        )
      ).rows[0]?.m;
      expect(marker).to.be.a('string');
      await holder.query('BEGIN');
      await holder.query(
        `COMMENT ON DATABASE ${holder.escapeIdentifier(instance.databaseName)} IS ${holder.escapeLiteral(marker!)}`,
      );
      await stack.request('DELETE', `/admin/instances/${instance.id}`);
      const failed = await stack.waitForStatus(instance.id, 'DeleteFailed');
      expect(failed.lastError).to.match(/lock/i);
    } finally {
      await holder.query('ROLLBACK').catch(() => undefined);
      await holder.end();
    }
    const retried = await stack.request('POST', `/admin/instances/${instance.id}/retry`);
    expect(retried.status, JSON.stringify(retried.body)).to.equal(200);
    expect(retried.body.status).to.equal('PendingDelete');
    await stack.waitForStatus(instance.id, 'Deleted');
    await expectServerMatchesRecords(stack);
  });

  it('refuses to retry anything but a failed operation, an unknown id, a read-only caller and other methods', async () => {
    const instance = await stack.createInstance('retry_refused');
    const before = await rowCounts(stack);
    expectProblem(await stack.request('POST', `/admin/instances/${instance.id}/retry`), 409);
    expectProblem(await stack.request('POST', '/admin/instances/00000000-0000-4000-8000-000000000000/retry'), 404);
    expectProblem(
      await stack.request('POST', `/admin/instances/${instance.id}/retry`, { token: stack.tokens.read }),
      403,
    );
    const get = await stack.request('GET', `/admin/instances/${instance.id}/retry`);
    expectProblem(get, 405);
    expect(get.headers.get('allow')).to.equal('POST');
    expect(await rowCounts(stack)).to.deep.equal(before);
  });
});
