import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { CapturedLog } from '../support/log-capture';
import { PrivateRedis } from '../support/processes';
import { Stack, startStack } from '../support/stack';
import { waitFor } from '../support/wait';

/** The worker's start-up look at Redis's memory policy and persistence (worker/redis-check.ts). */
describe("the worker's start-up check of the Redis configuration", function () {
  this.timeout(30_000);
  const log = new CapturedLog();
  let stack: Stack;
  let dir: string;
  const servers: PrivateRedis[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'odsim-redis-check-'));
    stack = await startStack({ worker: false, logger: log.logger });
  });
  after(async () => {
    await stack?.stop();
    for (const server of servers) await server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  /** Starts a worker of the stack on `server` and returns the events its check logged about that server. */
  async function checkOf(server: PrivateRedis): Promise<string[]> {
    servers.push(server);
    await stack.startWorker({ REDIS_URL: server.url });
    const node = `127.0.0.1:${server.port}`;
    await waitFor(async () => log.events('redis.checked').some((e) => e.node === node), `the check of ${node}`, 10_000);
    return log.lines.filter((l) => l.node === node && l.level === 'warn').map((l) => String(l.event));
  }

  it('warns of eviction under maxmemory and of a Redis that keeps nothing on disk, once each', async () => {
    // PrivateRedis keeps nothing on disk (--save "" --appendonly no).
    const warned = await checkOf(
      await PrivateRedis.start(['--maxmemory', '100mb', '--maxmemory-policy', 'allkeys-lru']),
    );
    expect(warned).to.deep.equal(['redis.eviction_risk', 'redis.not_persistent']);
    const eviction = log.events('redis.eviction_risk')[0]!;
    expect(eviction).to.include({ maxmemoryPolicy: 'allkeys-lru', maxmemory: 100 * 2 ** 20 });
    expect(String(eviction.message)).to.match(/reconciler enqueues lost jobs again from the admin database/);
  });

  it('says nothing of a Redis with AOF on and maxmemory-policy noeviction', async () => {
    const warned = await checkOf(
      await PrivateRedis.start([
        '--dir',
        dir,
        '--appendonly',
        'yes',
        '--maxmemory',
        '100mb',
        '--maxmemory-policy',
        'noeviction',
      ]),
    );
    expect(warned).to.deep.equal([]);
  });
});
