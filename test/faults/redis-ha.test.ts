import { expect } from 'chai';
import { JobEntity } from '../../shared/database/entities';
import { expectEachCreatedOnce, expectServerMatchesRecords } from '../support/consistency';
import { WorkerFleet } from '../support/processes';
import { RedisClusterNodes, SentinelSet } from '../support/redis-ha';
import { SMALL_TEMPLATE } from '../support/settings';
import { Stack, startStack } from '../support/stack';
import { waitFor } from '../support/wait';

const JOBS = 12;

/** Posts `count` creates; returns the instance ids. */
async function postCreates(stack: Stack, count: number, label: string): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const r = await stack.request('POST', '/admin/instances', {
      body: { instanceName: `${label} ${stack.id} ${i}`, databaseName: stack.db(`${label.toLowerCase()}_${i}`) },
    });
    expect(r.status).to.equal(201);
    ids.push(r.body.id);
  }
  return ids;
}

/** Renames the first instance and deletes the second through the API, and waits for both. */
async function renameAndDelete(stack: Stack, ids: string[], label: string): Promise<void> {
  const [renamed, deleted] = ids;
  const renamedTo = stack.db(`${label.toLowerCase()}_renamed`);
  expect(
    (await stack.request('PUT', `/admin/instances/${renamed}`, { body: { databaseName: renamedTo } })).status,
  ).to.equal(200);
  expect((await stack.request('DELETE', `/admin/instances/${deleted}`)).status).to.equal(200);
  // Generous: a DROP DATABASE waits for a checkpoint, slow while other suites write to the shared server.
  await stack.waitForStatus(deleted!, 'Deleted', 60_000);
  const after = await waitFor(
    async () => {
      const r = await stack.request('GET', `/admin/instances/${renamed}`);
      return r.body.status === 'Created' && r.body.databaseName === renamedTo ? r.body : undefined;
    },
    'the rename to finish',
    60_000,
  );
  expect(after.databaseName).to.equal(renamedTo);
}

/** BullMQ and the worker tuned as in the other fault tests: lost jobs come back within a second or two. */
const FAST_RECOVERY = {
  ODS_TEMPLATE_DATABASE: SMALL_TEMPLATE,
  RECONCILE_INTERVAL_MS: '500',
  JOB_LOCK_DURATION_MS: '3000',
  STALLED_INTERVAL_MS: '1000',
  GLOBAL_CONCURRENCY: '2',
};

describe('Redis behind Sentinel and as a cluster', function () {
  this.timeout(150_000);

  describe(`Sentinel: the master killed while ${JOBS} creates are queued or running`, () => {
    let sentinel: SentinelSet;
    let stack: Stack;
    const fleet = new WorkerFleet(() => stack.env);

    before(async () => {
      sentinel = await SentinelSet.start();
      stack = await startStack({ worker: false, env: { REDIS_URL: sentinel.url, ...FAST_RECOVERY } });
    });
    after(async () => {
      await fleet.killAll();
      await stack?.stop();
      await sentinel?.stop();
    });

    it('fails over to the replica; every instance is created exactly once, and renames and deletes work after', async () => {
      const ids = await postCreates(stack, JOBS, 'Sentinel');
      const workers = [fleet.spawn(), fleet.spawn()];
      const jobs = stack.dataSource.getRepository(JobEntity);
      await waitFor(
        async () => (await jobs.countBy({ status: 'succeeded' })) >= 2,
        'a few creates to finish',
        30_000,
        20,
      );

      // The harder case: the master dies (SIGKILL), nothing hands over; the Sentinels must notice and promote.
      await sentinel.master.kill();
      const unfinishedAtFault = await jobs.count({ where: [{ status: 'queued' }, { status: 'running' }] });
      expect(unfinishedAtFault, 'creates unfinished when the master died').to.be.greaterThan(3);
      const failoverMs = await sentinel.waitForPromotion();

      await waitFor(
        async () => (await jobs.countBy({ status: 'succeeded' })) === JOBS,
        `all ${JOBS} creates to succeed`,
        45_000,
        200,
      );
      const { clones } = await expectEachCreatedOnce(stack, ids);
      await expectServerMatchesRecords(stack);

      // The workers and the API now talk to the promoted replica.
      await renameAndDelete(stack, ids, 'Sentinel');
      await expectServerMatchesRecords(stack);
      expect(await sentinel.masterPort()).to.equal(sentinel.replica.port);
      for (const w of workers) expect(w.events('redis.error'), 'connection errors the worker saw').to.not.be.empty;
      const reEnqueued = workers.flatMap((w) => w.events('reconciler.enqueued')).length;
      console.log(
        `      master killed with ${unfinishedAtFault} of ${JOBS} creates unfinished; promoted after ${failoverMs} ms; ` +
          `${reEnqueued} re-enqueued by the reconciler, ${clones} clones, 0 lost`,
      );
    });
  });

  describe('Cluster of three masters', () => {
    let cluster: RedisClusterNodes;
    let stack: Stack;
    const fleet = new WorkerFleet(() => stack.env);

    before(async () => {
      cluster = await RedisClusterNodes.start(3);
      stack = await startStack({ worker: false, env: { REDIS_URL: cluster.url, ...FAST_RECOVERY } });
    });
    after(async () => {
      await fleet.killAll();
      await stack?.stop();
      await cluster?.stop();
    });

    it('runs creates, a rename and a delete, with every key of the deployment in one hash slot', async () => {
      const prefix = `{${stack.env.QUEUE_PREFIX}}`;
      expect(stack.apiConfig.redis.prefix, 'the key prefix on a cluster').to.equal(prefix);
      const worker = fleet.spawn();
      const ids = await postCreates(stack, 3, 'Cluster');
      for (const id of ids) await stack.waitForStatus(id, 'Created', 30_000);
      await renameAndDelete(stack, ids, 'Cluster');
      await expectServerMatchesRecords(stack);
      // It answers 503 when Redis takes over 2 s, as it may on this shared machine under load: asked again then.
      const queue = await waitFor(
        async () => {
          const r = await stack.request('GET', '/admin/queue');
          return r.status === 200 ? r : undefined;
        },
        'GET /admin/queue to answer 200',
        15_000,
        500,
      );
      expect(queue.body.workers, 'workers BullMQ counts on the cluster').to.equal(1);
      const board = await fetch(`${stack.baseUrl}/admin/queues/api/queues?activeQueue=&status=completed`, {
        headers: { authorization: `Bearer ${stack.tokens.full}`, accept: 'application/json' },
      });
      expect(board.status, 'the queue dashboard (bull-board) on the cluster').to.equal(200);
      const [shown] = ((await board.json()) as { queues: { counts: Record<string, number> }[] }).queues;
      expect(shown?.counts.completed, 'completed jobs the dashboard shows').to.equal(5);

      // Every key the deployment wrote, on any node, carries the hash tag, so all are in one slot.
      const keys = await cluster.keys(`*${stack.env.QUEUE_PREFIX}*`);
      const outside = keys.filter(({ key }) => !key.startsWith(prefix));
      expect(outside, 'keys without the hash tag').to.deep.equal([]);
      const kinds = (part: string) => keys.filter(({ key }) => key.includes(part)).length;
      expect(kinds(':instance-operations-'), 'BullMQ keys of the job queue').to.be.greaterThan(3);
      // The stack fetched its two tokens: both counted in Redis (the scripts ran on the cluster), none in the process.
      const [counted] = keys.filter(({ key }) => key.includes(':rate:token-address:'));
      const node = cluster.nodes.find((n) => n.port === counted?.port);
      expect(await node?.command((c) => c.get(counted!.key)), 'token requests counted in Redis').to.equal('2');
      expect(kinds(':deployments'), 'the deployment record').to.equal(1);
      const slots = new Set(await Promise.all(keys.map(({ key }) => cluster.keySlot(key))));
      expect([...slots], 'hash slots of the keys').to.deep.equal([await cluster.keySlot(prefix)]);
      expect(new Set(keys.map((k) => k.port)).size, 'nodes holding the keys').to.equal(1);
      // The start-up check looked at each master.
      expect(worker.events('redis.checked').map((e) => e.node)).to.have.length(3);
      console.log(`      ${keys.length} keys, all in slot ${[...slots][0]} (${prefix}), on one of the three masters`);
    });
  });
});
