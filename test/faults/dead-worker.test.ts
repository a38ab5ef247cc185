import { expect } from 'chai';
import { JobEntity } from '../../shared/database/entities';
import { expectServerMatchesRecords } from '../support/consistency';
import { connectTo, databaseExists } from '../support/ods-server';
import { WorkerFleet } from '../support/processes';
import { Stack, startStack } from '../support/stack';
import { waitFor } from '../support/wait';

/*
 * Issue 6, finding 3: at the DEFAULT lock settings (no fast test values), a SIGKILLed
 * worker's job must come back within about 15 s, and healthy workers must not sit idle
 * behind the dead worker's jobs for the old 60 s lock + 30 s stalled check.
 * ODSIM_TEST_RESUME_DEADLINE_MS only exists to measure the old code's figure (it cannot
 * meet the default deadline); leave it unset.
 */
const RESUME_DEADLINE_MS = Number(process.env.ODSIM_TEST_RESUME_DEADLINE_MS || 30_000);
const ALL_DONE_DEADLINE_MS = RESUME_DEADLINE_MS + 15_000;
const seconds = (ms: number) => (ms / 1000).toFixed(1);

describe('a dead worker, at the default lock settings', function () {
  this.timeout(240_000);
  let stack: Stack;
  const fleet = new WorkerFleet(() => stack.env);
  const spawnWorker = (env: Record<string, string> = {}) => fleet.spawn(env);

  before(async () => {
    // Empty values mean "not set": the workers run with the defaults of shared/config.ts.
    stack = await startStack({
      worker: false,
      env: { JOB_LOCK_DURATION_MS: '', STALLED_INTERVAL_MS: '', GLOBAL_CONCURRENCY: '2', RECONCILE_INTERVAL_MS: '' },
    });
  });
  afterEach(async () => {
    await fleet.killAll();
  });
  after(async () => stack.stop());

  it("lets a healthy worker finish the queued creates and resume the dead workers' jobs soon after two workers holding jobs are killed", async () => {
    const CREATES = 8;
    const victims = [1, 2].map(() =>
      spawnWorker({ WORKER_CONCURRENCY: '1', ODSIM_FAULT_PAUSE_AT: 'create.cloning', ODSIM_FAULT_PAUSE_MS: '600000' }),
    );
    await Promise.all(victims.map((w) => w.waitForEvent('worker.started')));
    const posts = await Promise.all(
      Array.from({ length: CREATES }, (_, i) =>
        stack.request('POST', '/admin/instances', {
          body: { instanceName: `Dead ${stack.id} ${i}`, databaseName: stack.db(`dead_${i}`) },
        }),
      ),
    );
    expect(posts.map((p) => p.status)).to.deep.equal(Array(CREATES).fill(201));
    // Each victim holds one job, paused before its clone: the global limit of 2 is taken.
    const held = await Promise.all(
      victims.map(async (w) => {
        await w.waitForEvent('fault.paused');
        return (await w.waitForEvent('job.started')).jobId as string;
      }),
    );
    const healthy = spawnWorker();
    await healthy.waitForEvent('worker.started');

    const killedAt = Date.now();
    await Promise.all(victims.map((w) => w.kill('SIGKILL')));
    const resumedAfter = await Promise.all(
      held.map(async (jobId) => {
        await healthy.waitForEvent('job.started', (e) => e.jobId === jobId, RESUME_DEADLINE_MS);
        return Date.now() - killedAt;
      }),
    );
    const jobs = stack.dataSource.getRepository(JobEntity);
    await waitFor(
      async () => (await jobs.countBy({ status: 'succeeded' })) === CREATES,
      `all ${CREATES} creates`,
      ALL_DONE_DEADLINE_MS,
      200,
    );
    const allDoneAfter = Date.now() - killedAt;
    console.log(
      `      dead workers' jobs resumed ${resumedAfter.map(seconds).join(' s, ')} s after the kill; all ${CREATES} creates done after ${seconds(allDoneAfter)} s`,
    );
    for (const jobId of held)
      expect((await jobs.findOneByOrFail({ id: jobId })).attempts, `attempts of ${jobId}`).to.equal(2);
    // The healthy worker did not sit idle until the dead jobs came back: it finished queued
    // creates first (the dead workers' slots were freed when their sessions died).
    const lineIndex = (match: (e: Record<string, unknown>) => boolean) =>
      healthy.lines.findIndex((l) => l.startsWith('{') && match(JSON.parse(l) as Record<string, unknown>));
    const firstQueuedDone = lineIndex((e) => e.event === 'job.succeeded' && !held.includes(String(e.jobId)));
    const firstResumed = lineIndex((e) => e.event === 'job.started' && held.includes(String(e.jobId)));
    expect(firstQueuedDone, 'a queued create finished').to.be.greaterThan(-1);
    expect(firstQueuedDone, "before the dead workers' jobs were resumed").to.be.lessThan(firstResumed);
    await expectServerMatchesRecords(stack);
  });

  it('reopens a database closed for a rename as soon as a worker resumes the rename killed at rename.closed', async () => {
    const first = spawnWorker();
    const instance = await stack.createInstance('dead_rename');
    await first.kill('SIGTERM');
    const victim = spawnWorker({ ODSIM_FAULT_PAUSE_AT: 'rename.closed', ODSIM_FAULT_PAUSE_MS: '600000' });
    const to = `${instance.databaseName}_to`;
    expect(
      (await stack.request('PUT', `/admin/instances/${instance.id}`, { body: { databaseName: to } })).status,
    ).to.equal(200);
    await victim.waitForEvent('fault.paused', (e) => e.step === 'rename.closed');
    const killedAt = Date.now();
    await victim.kill('SIGKILL');
    spawnWorker();
    await waitFor(
      async () => {
        const session = await connectTo(to);
        await session.end();
        return true;
      },
      `${to} to accept connections`,
      RESUME_DEADLINE_MS,
      200,
    );
    const refusedFor = Date.now() - killedAt;
    const done = await stack.waitForStatus(instance.id, 'Created', 30_000);
    console.log(`      the renamed database accepted connections again ${seconds(refusedFor)} s after the kill`);
    expect(done.databaseName).to.equal(to);
    expect(await databaseExists(instance.databaseName)).to.equal(false);
    await expectServerMatchesRecords(stack);
  });
});
