import { expect } from 'chai';
import { AuditEventEntity, InstanceEntity, JobEntity } from '../../shared/database/entities';
import { expectServerMatchesRecords } from '../support/consistency';
import { connectTo, ownerOf, withServer } from '../support/ods-server';
import { WorkerFleet } from '../support/processes';
import { type HttpResult, type Stack, startStack } from '../support/stack';
import { waitFor } from '../support/wait';

function expectProblem(r: HttpResult, status: number, detail?: RegExp): void {
  expect(r.status, JSON.stringify(r.body)).to.equal(status);
  expect(r.headers.get('content-type')).to.match(/^application\/problem\+json/);
  if (detail) expect(r.body.detail).to.match(detail);
}

const acceptsConnections = (name: string) =>
  withServer(async (c) => {
    const rows = (
      await c.query<{ ok: boolean }>('SELECT datallowconn AS ok FROM pg_database WHERE datname = $1', [name])
    ).rows;
    return rows[0]?.ok;
  });

const setConnections = (name: string, allow: boolean) =>
  withServer((c) => c.query(`ALTER DATABASE ${c.escapeIdentifier(name)} ALLOW_CONNECTIONS ${allow}`));

/** Rows of the table the tests write into a source by hand, read from `database`. */
async function gradesIn(database: string): Promise<string[]> {
  const c = await connectTo(database);
  try {
    return (await c.query<{ v: string }>('SELECT v FROM copy_test_grades ORDER BY v')).rows.map((r) => r.v);
  } finally {
    await c.end();
  }
}

/** What a refused request must leave as it was: every instance, job and audit row. */
async function counts(stack: Stack) {
  return {
    instances: await stack.dataSource.getRepository(InstanceEntity).count(),
    jobs: await stack.dataSource.getRepository(JobEntity).count(),
    audit: await stack.dataSource.getRepository(AuditEventEntity).count(),
  };
}

/*
 * POST /admin/instances with sourceInstanceId (docs/copy.md), on the real PostgreSQL and Redis.
 * Fast lock settings make BullMQ notice a killed worker's job within about 3 s.
 */
describe('copying an instance with its data', function () {
  this.timeout(90_000);
  let stack: Stack;
  const fleet = new WorkerFleet(() => stack.env);
  let source: { id: string; databaseName: string };

  before(async () => {
    stack = await startStack({
      worker: false,
      env: { JOB_LOCK_DURATION_MS: '2000', STALLED_INTERVAL_MS: '1000', RECONCILE_INTERVAL_MS: '500' },
    });
    await stack.startWorker();
    source = await stack.createInstance('source');
    const c = await connectTo(source.databaseName);
    await c.query(`CREATE TABLE copy_test_grades (v text); INSERT INTO copy_test_grades VALUES ('A'), ('B'), ('C')`);
    await c.end();
  });
  afterEach(async () => fleet.killAll());
  after(async () => stack?.stop());

  const copy = (suffix: string, body: Record<string, unknown> = {}, query = '') =>
    stack.request('POST', `/admin/instances${query}`, {
      body: {
        instanceName: `Copy ${stack.id} ${suffix}`,
        databaseName: stack.db(suffix),
        sourceInstanceId: source.id,
        disconnectSource: true,
        ...body,
      },
    });

  it("copies a Created instance's rows, ends the source's sessions, and leaves the source open and untouched", async () => {
    const session = await connectTo(source.databaseName); // an ODS/API pool's connection
    const r = await copy('copy1');
    expect(r.status, JSON.stringify(r.body)).to.equal(201);
    expect(r.body.sourceInstanceId).to.equal(source.id);
    expect(r.body._links.copyOf.href).to.equal(`/admin/instances/${source.id}`);
    const done = await stack.waitForStatus(r.body.id, 'Created');
    expect(done.lastError).to.equal(null);

    expect(await gradesIn(stack.db('copy1'))).to.deep.equal(['A', 'B', 'C']);
    expect(await ownerOf(stack.db('copy1'))).to.equal(r.body.id);
    expect(await ownerOf(source.databaseName)).to.equal(source.id);
    expect(await acceptsConnections(source.databaseName)).to.equal(true);
    expect(await gradesIn(source.databaseName)).to.deep.equal(['A', 'B', 'C']);
    expect(
      await session.query('SELECT 1').then(
        () => 'still connected',
        (e: Error) => e.message,
      ),
    ).to.match(/terminat|Connection/i);
    await session.end().catch(() => undefined);

    const job = await stack.dataSource.getRepository(JobEntity).findOneByOrFail({ id: r.body.job.id });
    expect(job).to.include({
      status: 'succeeded',
      sourceInstanceId: source.id,
      disconnectSource: true,
      sourceDatabaseName: source.databaseName,
      sourceClosedAt: null,
    });
    const jobView = await stack.request('GET', `/admin/jobs/${job.id}`);
    expect(jobView.body).to.include({ sourceInstanceId: source.id, disconnectSource: true });
    const audit = await stack.dataSource
      .getRepository(AuditEventEntity)
      .findOneByOrFail({ jobId: job.id, outcome: 'accepted' });
    expect(JSON.parse(audit.details!)).to.include({ copyOf: source.id, disconnectSource: true });
    const sourceNow = await stack.request('GET', `/admin/instances/${source.id}`);
    expect(sourceNow.body).to.include({ status: 'Created', databaseName: source.databaseName, sourceInstanceId: null });
    await expectServerMatchesRecords(stack);
  });

  it('refuses a copy on PostgreSQL without disconnectSource: true, and a source that is not there (400, nothing recorded)', async () => {
    const before = await counts(stack);
    const missing = await copy('nope1', { disconnectSource: undefined });
    expectProblem(missing, 400);
    expect(missing.body.errors.disconnectSource[0]).to.match(/nobody is connected.*sessions are ended/);
    expectProblem(await copy('nope2', { disconnectSource: false }), 400);
    expectProblem(await copy('nope3', { disconnectSource: 'yes' }), 400);
    const alone = await stack.request('POST', '/admin/instances', {
      body: { instanceName: `Alone ${stack.id}`, databaseName: stack.db('nope4'), disconnectSource: true },
    });
    expectProblem(alone, 400);
    expect(alone.body.errors).to.have.key('disconnectSource');
    const unknown = await copy('nope5', { sourceInstanceId: '00000000-0000-4000-8000-000000000000' });
    expectProblem(unknown, 400);
    expect(unknown.body.errors.sourceInstanceId[0]).to.match(/No instance with id/);
    expectProblem(await copy('nope6', { sourceInstanceId: 'not-a-uuid' }), 400);
    const bulk = await stack.request('POST', '/admin/instances/bulk', {
      body: {
        instances: [{ instanceName: `Bulk ${stack.id}`, databaseName: stack.db('nope7'), sourceInstanceId: source.id }],
      },
    });
    expectProblem(bulk, 400);
    expect(await counts(stack)).to.deep.equal(before);
  });

  it('answers a dry run of a copy with the statements that shut, copy and reopen the source, recording nothing', async () => {
    const before = await counts(stack);
    const r = await copy('dry', {}, '?dryRun=true');
    expect(r.status, JSON.stringify(r.body)).to.equal(200);
    expect(r.body.job).to.include({
      sourceInstanceId: source.id,
      disconnectSource: true,
      sourceDatabaseName: source.databaseName,
    });
    const sql: string[] = r.body.statements.map((s: { sql: string }) => s.sql);
    const at = (pattern: RegExp) => sql.findIndex((s) => pattern.test(s));
    const shut = at(new RegExp(`ALTER DATABASE "${source.databaseName}" ALLOW_CONNECTIONS false`));
    const end = at(/pg_terminate_backend/);
    const clone = at(new RegExp(`CREATE DATABASE .* TEMPLATE "${source.databaseName}"`));
    const reopen = at(new RegExp(`ALTER DATABASE "${source.databaseName}" ALLOW_CONNECTIONS true`));
    expect(
      [shut, end, clone, reopen].every((i) => i >= 0),
      sql.join('\n'),
    ).to.equal(true);
    expect(shut < end && end < clone && clone < reopen).to.equal(true);
    expect(await counts(stack)).to.deep.equal(before);
  });

  it('keeps a source while its copy is queued: rename, delete and release of it get 409, and a source with an unfinished job cannot be copied', async () => {
    const other = await stack.createInstance('other');
    await stack.stopWorkers();
    // `other` gets an unfinished rename; `source` a queued copy.
    const renaming = await stack.request('PUT', `/admin/instances/${other.id}`, {
      body: { databaseName: stack.db('other_new') },
    });
    expect(renaming.status, JSON.stringify(renaming.body)).to.equal(200);
    expectProblem(await copy('busy', { sourceInstanceId: other.id }), 409, /unfinished job/);

    const queued = await copy('queued');
    expect(queued.status, JSON.stringify(queued.body)).to.equal(201);
    const copying = new RegExp(`being copied by job ${queued.body.job.id}`);
    expectProblem(
      await stack.request('PUT', `/admin/instances/${source.id}`, { body: { databaseName: stack.db('source_new') } }),
      409,
      copying,
    );
    expectProblem(await stack.request('DELETE', `/admin/instances/${source.id}`), 409, copying);
    // A release keeps the database but takes its marker away, which the copy checks: refused too.
    expectProblem(await stack.request('POST', `/admin/instances/${source.id}/release`), 409, copying);
    expectProblem(await stack.request('DELETE', `/admin/instances/${source.id}?dropDatabase=false`), 409, copying);
    expectProblem(await copy('twice'), 409, copying);
    // Protection does not take the database away: allowed while copied.
    expect((await stack.request('POST', `/admin/instances/${source.id}/protect`)).status).to.equal(200);
    expect((await stack.request('POST', `/admin/instances/${source.id}/unprotect`)).status).to.equal(200);

    await stack.startWorker();
    await stack.waitForStatus(queued.body.id, 'Created');
    await stack.waitForStatus(other.id, 'Created');
    expect(await gradesIn(stack.db('queued'))).to.deep.equal(['A', 'B', 'C']);
    expect(await acceptsConnections(source.databaseName)).to.equal(true);
    // Once the copy is done the source is free again (a rename to the same name is a no-op request).
    const renameLater = await stack.request('PUT', `/admin/instances/${source.id}`, {
      body: { instanceName: `Test ${stack.id} source again` },
    });
    expect(renameLater.status, JSON.stringify(renameLater.body)).to.equal(200);
    await expectServerMatchesRecords(stack);
  });

  it('lets exactly one of a copy and a delete of the same source through when they race', async () => {
    const sources = [
      await stack.createInstance('race_a'),
      await stack.createInstance('race_b'),
      await stack.createInstance('race_c'),
    ];
    await stack.stopWorkers();
    const outcomes: string[] = [];
    for (const [i, racing] of sources.entries()) {
      const [copied, deleted] = await Promise.all([
        copy(`race_copy_${i}`, { sourceInstanceId: racing.id }),
        stack.request('DELETE', `/admin/instances/${racing.id}`),
      ]);
      outcomes.push(
        [copied.status, deleted.status].includes(409) ? 'one refused' : `${copied.status}/${deleted.status}`,
      );
      expect(
        [copied.status, deleted.status].filter((s) => s < 300),
        JSON.stringify([copied.body, deleted.body]),
      ).to.have.length(1);
      expect((copied.status === 409 ? copied : deleted).body.detail).to.match(
        copied.status === 409 ? /unfinished job/ : /being copied/,
      );
    }
    expect(outcomes).to.deep.equal(['one refused', 'one refused', 'one refused']);
    await stack.startWorker();
    await waitFor(
      async () => (await stack.jobsRows()).every((j) => j.status === 'succeeded' || j.status === 'failed'),
      'every raced job to end',
      60_000,
    );
    await expectServerMatchesRecords(stack);
  });

  it('a worker killed with the source shut: the next run reopens it first, and the copy completes', async () => {
    await stack.stopWorkers();
    const victim = fleet.spawn({ ODSIM_FAULT_PAUSE_AT: 'copy.source-closed', ODSIM_FAULT_PAUSE_MS: '120000' });
    const r = await copy('crash');
    expect(r.status, JSON.stringify(r.body)).to.equal(201);
    await victim.waitForEvent('fault.paused', (e) => e.step === 'copy.source-closed');
    await victim.kill('SIGKILL');
    expect(await acceptsConnections(source.databaseName)).to.equal(false);
    const noted = await stack.dataSource.getRepository(JobEntity).findOneByOrFail({ id: r.body.job.id });
    expect(noted.sourceClosedAt).to.be.instanceOf(Date);
    expectProblem(await stack.request('DELETE', `/admin/instances/${source.id}`), 409, /being copied/);

    await stack.startWorker();
    const done = await stack.waitForStatus(r.body.id, 'Created');
    expect(done.lastError).to.equal(null);
    expect(await acceptsConnections(source.databaseName)).to.equal(true);
    expect(await gradesIn(stack.db('crash'))).to.deep.equal(['A', 'B', 'C']);
    expect(await ownerOf(source.databaseName)).to.equal(source.id);
    const job = await stack.dataSource.getRepository(JobEntity).findOneByOrFail({ id: r.body.job.id });
    expect(job).to.include({ status: 'succeeded', attempts: 2, sourceClosedAt: null });
    const sourceNow = (await stack.request('GET', `/admin/instances/${source.id}`)).body;
    expect(sourceNow).to.include({ status: 'Created', databaseName: source.databaseName });
    await expectServerMatchesRecords(stack);
  });

  it('reopens a source an ended copy job left shut, and never a database an administrator shut', async () => {
    await stack.stopWorkers(); // their reconcilers would reopen the source before the test looks
    const worker = await stack.startWorker();
    await worker.reconciler.stop(); // this test runs its passes
    // An earlier copy's database, shut by an administrator: no copy job noted it.
    const handShut = { databaseName: stack.db('copy1') };
    const jobs = stack.dataSource.getRepository(JobEntity);
    const ended = await jobs.findOneOrFail({ where: { sourceInstanceId: source.id, status: 'succeeded' } });
    // As a worker that died between shutting the source and reopening it, on a job that then ended.
    await jobs.update({ id: ended.id }, { sourceClosedAt: new Date() });
    await setConnections(source.databaseName, false);
    await setConnections(handShut.databaseName, false);
    expectProblem(await stack.request('DELETE', `/admin/instances/${source.id}`), 409, /being copied/);

    const report = await worker.reconciler.runOnce();
    expect(report.reopened).to.equal(1);
    expect(await acceptsConnections(source.databaseName)).to.equal(true);
    expect(await acceptsConnections(handShut.databaseName)).to.equal(false);
    expect((await jobs.findOneByOrFail({ id: ended.id })).sourceClosedAt).to.equal(null);
    expect((await worker.reconciler.runOnce()).reopened).to.equal(0);
    await setConnections(handShut.databaseName, true);
    await waitFor(async () => (await acceptsConnections(handShut.databaseName)) === true, 'reopened by hand', 5000);
  });
  it('retries a failed copy as a copy of the same source, under the same checks', async () => {
    // A database of the copy's name that no instance owns: the copy fails for good, touching nothing.
    await withServer((c) => c.query(`CREATE DATABASE ${c.escapeIdentifier(stack.db('retry'))}`));
    const r = await copy('retry');
    expect(r.status, JSON.stringify(r.body)).to.equal(201);
    const failed = await stack.waitForStatus(r.body.id, 'CreateFailed');
    expect(failed.lastError).to.match(/not managed/);
    expect(await acceptsConnections(source.databaseName)).to.equal(true);
    await withServer((c) => c.query(`DROP DATABASE ${c.escapeIdentifier(stack.db('retry'))}`));

    const retried = await stack.request('POST', `/admin/instances/${r.body.id}/retry`);
    expect(retried.status, JSON.stringify(retried.body)).to.equal(200);
    const job = await stack.dataSource.getRepository(JobEntity).findOneByOrFail({ id: retried.body.job.id });
    expect(job).to.include({
      sourceInstanceId: source.id,
      disconnectSource: true,
      sourceDatabaseName: source.databaseName,
    });
    await stack.waitForStatus(r.body.id, 'Created');
    expect(await gradesIn(stack.db('retry'))).to.deep.equal(['A', 'B', 'C']);
    expect(await acceptsConnections(source.databaseName)).to.equal(true);
    await expectServerMatchesRecords(stack);
  });
});
