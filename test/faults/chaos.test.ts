import { expect } from 'chai';
import { JobEntity } from '../../shared/database/entities';
import { expectServerMatchesRecords } from '../support/consistency';
import { WorkerProcess } from '../support/processes';
import { Stack, startStack } from '../support/stack';
import { waitFor } from '../support/wait';

/** Deterministic pseudo-random numbers (mulberry32), so a failing run can be replayed. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('workers killed at random while creates, renames and deletes run', function () {
  this.timeout(240_000);
  const INSTANCES = 14;
  const seed = Number(process.env.CHAOS_SEED ?? 7);
  let stack: Stack;
  const workers: WorkerProcess[] = [];
  const spawn = () => workers.push(new WorkerProcess({ ...stack.env, LOG_LEVEL: 'info' }));

  before(async () => {
    stack = await startStack({
      worker: false,
      env: {
        JOB_LOCK_DURATION_MS: '2000',
        STALLED_INTERVAL_MS: '1000',
        RECONCILE_INTERVAL_MS: '500',
        GLOBAL_CONCURRENCY: '2',
      },
    });
  });
  after(async () => {
    await Promise.all(workers.map((w) => w.kill('SIGKILL')));
    await stack.stop();
  });

  it(`loses nothing and leaves the server matching the records (seed ${seed})`, async () => {
    const random = prng(seed);
    spawn();
    spawn();
    let kills = 0;
    let chaos = true;
    const monkey = (async () => {
      while (chaos) {
        await new Promise((resolve) => setTimeout(resolve, 400 + random() * 1200));
        if (!chaos) break;
        const alive = workers.filter((w) => w.child.exitCode === null && w.child.signalCode === null);
        await alive[Math.floor(random() * alive.length)]?.kill('SIGKILL');
        kills++;
        spawn();
        // The next kill's wait starts once the replacement is up: on a loaded machine a worker's
        // start can take as long as the wait, and a worker killed before it ever takes a job
        // tests nothing but slows the run (it timed out so in a parallel CI run).
        await workers
          .at(-1)!
          .waitForEvent('worker.started', () => true, 60_000)
          .catch(() => undefined);
      }
    })();

    const jobs = stack.dataSource.getRepository(JobEntity);
    const ids: string[] = [];
    const allFinished = async () => (await jobs.count({ where: [{ status: 'queued' }, { status: 'running' }] })) === 0;
    try {
      for (let i = 0; i < INSTANCES; i++) {
        const r = await stack.request('POST', '/admin/instances', {
          body: { instanceName: `Chaos ${stack.id} ${i}`, databaseName: stack.db(`chaos_${i}`) },
        });
        expect(r.status).to.equal(201);
        ids.push(r.body.id);
      }
      await waitFor(allFinished, 'the creates to finish', 180_000, 200);
      for (const [i, id] of ids.entries()) {
        const r =
          i % 2 === 0
            ? await stack.request('PUT', `/admin/instances/${id}`, {
                body: { databaseName: stack.db(`chaos_${i}_renamed`) },
              })
            : await stack.request('DELETE', `/admin/instances/${id}`);
        expect(r.status).to.equal(200);
      }
      await waitFor(allFinished, 'the renames and deletes to finish', 180_000, 200);
    } finally {
      chaos = false;
      await monkey;
    }

    const rows = await jobs.find();
    expect(rows.filter((j) => j.status !== 'succeeded').map((j) => `${j.type} ${j.status}: ${j.error}`)).to.deep.equal(
      [],
    );
    expect(rows).to.have.length(INSTANCES * 2);
    for (const [i, id] of ids.entries()) {
      const instance = (await stack.request('GET', `/admin/instances/${id}`)).body;
      if (i % 2 === 0) expect(instance).to.include({ status: 'Created', databaseName: stack.db(`chaos_${i}_renamed`) });
      else expect(instance.status).to.equal('Deleted');
    }
    await expectServerMatchesRecords(stack);
    const retried = rows.filter((j) => j.attempts > 1).length;
    expect(kills).to.be.greaterThan(3);
    console.log(
      `      ${kills} workers killed; ${rows.length} jobs all succeeded, ${retried} of them after more than one attempt`,
    );
  });
});
