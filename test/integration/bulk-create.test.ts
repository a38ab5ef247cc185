import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import type { Queue } from 'bullmq';
import type { RedisClient } from '../../shared/redis';
import { createApp } from '../../api/app';
import { TokenService } from '../../api/auth/tokens';
import { silentLogger } from '../../shared/logger';
import { AuditEventEntity, DatabaseNameClaimEntity, InstanceEntity, JobEntity } from '../../shared/database/entities';
import { createQueue, type JobPayload, redisConnection } from '../../shared/jobs/queue';
import { databaseExists, databasesLike, ownerOf } from '../support/ods-server';
import { type HttpResult, type Stack, startStack } from '../support/stack';

const BULK = '/admin/instances/bulk';
const year = (value: string) => ({ contextKey: 'schoolYearFromRoute', contextValue: value });
const district = (value: string) => ({ contextKey: 'districtIdFromRoute', contextValue: value });

interface Snapshot {
  instances: number;
  jobs: number;
  claims: number;
  audit: number;
  queued: number;
  databases: string[];
}

/** Everything a bulk create could leave behind: rows, queued jobs and the server's databases. */
async function snapshot(stack: Stack, queue: Queue<JobPayload>): Promise<Snapshot> {
  const counts = await queue.getJobCounts();
  return {
    instances: await stack.dataSource.getRepository(InstanceEntity).count(),
    jobs: await stack.dataSource.getRepository(JobEntity).count(),
    claims: await stack.dataSource.getRepository(DatabaseNameClaimEntity).count(),
    audit: await stack.dataSource.getRepository(AuditEventEntity).count(),
    queued: Object.values(counts).reduce((a, b) => a + b, 0),
    databases: await databasesLike(stack.db('')),
  };
}

function expectProblem(r: HttpResult, status: number, fields: string[] = []): void {
  expect(r.status, JSON.stringify(r.body)).to.equal(status);
  expect(r.headers.get('content-type')).to.match(/^application\/problem\+json/);
  for (const field of fields) expect(r.body.errors, JSON.stringify(r.body)).to.have.property(field);
}

function queueOf(stack: Stack): { queue: Queue<JobPayload>; redis: RedisClient } {
  const redis = redisConnection(stack.apiConfig.redis.url);
  redis.on('error', () => undefined);
  return { queue: createQueue(redis, stack.apiConfig.redis.prefix, stack.deploymentId), redis };
}

describe('bulk create (POST /admin/instances/bulk)', () => {
  describe('without a mode', () => {
    let stack: Stack;
    let queue: Queue<JobPayload>;
    let redis: RedisClient;
    let n = 0;
    before(async () => {
      stack = await startStack({ env: { BULK_CREATE_MAX: '5' } });
      ({ queue, redis } = queueOf(stack));
    });
    after(async () => {
      await queue.close();
      redis.disconnect();
      await stack.stop();
    });

    const item = (extra: Record<string, unknown> = {}) => {
      n += 1;
      return { instanceName: `Bulk ${stack.id} ${n}`, databaseName: stack.db(`bulk_${n}`), ...extra };
    };

    /** The request is refused, and nothing at all is recorded, queued or created on the server. */
    async function refusedLeavingNothing(body: unknown, status: number, fields: string[] = []): Promise<HttpResult> {
      const before = await snapshot(stack, queue);
      const r = await stack.request('POST', BULK, { body });
      expectProblem(r, status, fields);
      expect(await snapshot(stack, queue)).to.deep.equal(before);
      return r;
    }

    it('creates every instance, each with its own job, and all reach Created with their databases', async () => {
      const items = [item(), item(), item()];
      const r = await stack.request('POST', BULK, { body: { instances: items } });
      expect(r.status, JSON.stringify(r.body)).to.equal(201);
      expect(r.body.instances).to.have.length(3);
      r.body.instances.forEach((created: any, i: number) => {
        expect(created).to.include({
          status: 'PendingCreate',
          instanceName: items[i]!.instanceName,
          databaseName: items[i]!.databaseName,
        });
        expect(created.job).to.include({ type: 'create', status: 'queued' });
        expect(created._links.job.href).to.equal(`/admin/jobs/${created.job.id}`);
        expect(created._links.self.href).to.equal(`/admin/instances/${created.id}`);
      });
      expect(new Set(r.body.instances.map((c: any) => c.job.id)).size).to.equal(3);
      for (const created of r.body.instances) {
        const ready = await stack.waitForStatus(created.id, 'Created');
        expect(ready.job).to.include({ id: created.job.id, type: 'create', status: 'succeeded' });
        expect(await databaseExists(created.databaseName)).to.equal(true);
        expect(await ownerOf(created.databaseName)).to.equal(created.id);
      }
      const audit = await stack.dataSource
        .getRepository(AuditEventEntity)
        .findBy({ action: 'instance.create', outcome: 'accepted' });
      expect(audit.filter((a) => r.body.instances.some((c: any) => c.id === a.instanceId))).to.have.length(3);
    });

    it('creates nothing when one item is invalid, and names that item', async () => {
      const r = await refusedLeavingNothing(
        { instances: [item(), item(), item({ databaseName: 'bad name;drop' }), item()] },
        400,
        ['instances[2].databaseName'],
      );
      expect(Object.keys(r.body.errors)).to.deep.equal(['instances[2].databaseName']);
      expect(r.body.detail).to.match(/nothing was created/);
    });

    it('lists the problems of every invalid item at once', async () => {
      const r = await refusedLeavingNothing(
        { instances: [item({ instanceName: '' }), item(), 'not an object', item({ extra: 1 })] },
        400,
        ['instances[0].instanceName', 'instances[2]', 'instances[3].extra'],
      );
      expect(r.body.errors).not.to.have.property('instances[1].instanceName');
    });

    it('refuses two items with the same instanceName or databaseName (case-insensitively), creating nothing', async () => {
      const first = item();
      await refusedLeavingNothing(
        { instances: [first, item({ instanceName: first.instanceName.toUpperCase() })] },
        400,
        ['instances[1].instanceName'],
      );
      const again = item();
      const r = await refusedLeavingNothing(
        { instances: [again, item(), item({ databaseName: again.databaseName.toUpperCase() })] },
        400,
        ['instances[2].databaseName'],
      );
      expect(r.body.errors['instances[2].databaseName'].join(' ')).to.match(/instances\[0\]/);
    });

    it('refuses an empty list and more than BULK_CREATE_MAX items, naming the cap', async () => {
      await refusedLeavingNothing({ instances: [] }, 400, ['instances']);
      const r = await refusedLeavingNothing({ instances: [1, 2, 3, 4, 5, 6].map(() => item()) }, 400, ['instances']);
      expect(r.body.errors.instances.join(' ')).to.match(/at most 5 .*BULK_CREATE_MAX/);
      await refusedLeavingNothing({ instances: [item()], more: true }, 400, ['more']);
      await refusedLeavingNothing([item()], 400);
    });

    it('refuses with 409, creating nothing, when an existing instance has an item’s name', async () => {
      const existing = await stack.createInstance(`taken_${stack.id}`);
      const r = await refusedLeavingNothing(
        {
          instances: [
            item(),
            item({ instanceName: existing.instanceName.toLowerCase() }),
            item({ databaseName: existing.databaseName }),
          ],
        },
        409,
        ['instances[1].instanceName', 'instances[2].databaseName'],
      );
      expect(r.body.detail).to.match(/2 of the 3 instances/);
    });

    it('is refused to a read-only client, and without a token', async () => {
      const before = await snapshot(stack, queue);
      const r = await stack.request('POST', BULK, { body: { instances: [item()] }, token: stack.tokens.read });
      expectProblem(r, 403);
      expectProblem(await stack.request('POST', BULK, { body: { instances: [item()] }, token: null }), 401);
      expect(await snapshot(stack, queue)).to.deep.equal(before);
    });

    it('with dryRun=true answers the plan of each item and records nothing', async () => {
      const before = await snapshot(stack, queue);
      const items = [item(), item()];
      const r = await stack.request('POST', `${BULK}?dryRun=true`, { body: { instances: items } });
      expect(r.status, JSON.stringify(r.body)).to.equal(200);
      expect(r.body.dryRun).to.equal(true);
      expect(r.body.instances.map((p: any) => p.instance.databaseName)).to.deep.equal(items.map((i) => i.databaseName));
      expect(r.body.instances[0].statements).to.not.be.empty;
      expect(await snapshot(stack, queue)).to.deep.equal(before);
    });

    it('reads a body up to BULK_CREATE_MAX × 4 kB, and only once the caller is authenticated', async () => {
      const padding = 'x'.repeat(21 * 1024); // over 5 × 4 kB, and over BODY_LIMIT
      const raw = JSON.stringify({ instances: [item({ instanceType: padding })] });
      expectProblem(await stack.request('POST', BULK, { rawBody: raw, token: null }), 401);
      expectProblem(await stack.request('POST', BULK, { rawBody: raw }), 413);
      // Over BODY_LIMIT (16 kB) but within the route's own limit: read, and judged on its content.
      const within = JSON.stringify({ instances: [item({ instanceType: 'x'.repeat(17 * 1024) })] });
      expectProblem(await stack.request('POST', BULK, { rawBody: within }), 400, ['instances[0].instanceType']);
    });

    it('answers 405 to other methods', async () => {
      const r = await stack.request('GET', BULK);
      expectProblem(r, 405);
      expect(r.headers.get('allow')).to.equal('POST');
    });
  });

  describe('against the unfinished-jobs quota', () => {
    let stack: Stack;
    before(async () => {
      stack = await startStack({ worker: false, env: { MAX_UNFINISHED_JOBS_PER_CLIENT: '3' } });
    });
    after(async () => stack.stop());

    it('refuses with 429, creating nothing, a batch that would take the client over it', async () => {
      const items = (from: number, count: number) =>
        Array.from({ length: count }, (_, i) => ({
          instanceName: `Quota ${stack.id} ${from + i}`,
          databaseName: stack.db(`quota_${from + i}`),
        }));
      expect((await stack.request('POST', BULK, { body: { instances: items(0, 2) } })).status).to.equal(201);
      const r = await stack.request('POST', BULK, { body: { instances: items(2, 2) } });
      expectProblem(r, 429);
      expect(r.headers.get('retry-after')).to.match(/^\d+$/);
      expect(await stack.dataSource.getRepository(InstanceEntity).count()).to.equal(2);
      expect((await stack.request('POST', BULK, { body: { instances: items(4, 1) } })).status).to.equal(201);
    });
  });

  describe('where the deployment derives names from contexts (ODS_CONTEXT_KEYS)', () => {
    let stack: Stack;
    before(async () => {
      stack = await startStack({
        worker: false,
        env: {
          ODS_CONTEXT_KEYS: 'districtIdFromRoute,schoolYearFromRoute',
          ODS_DATABASE_NAME_PATTERN: 't_x_{districtIdFromRoute}_{schoolYearFromRoute}',
        },
      });
    });
    after(async () => stack.stop());

    it('derives each databaseName from the item’s contexts', async () => {
      const districts = ['255901', '255902', '255903'];
      const r = await stack.request('POST', BULK, {
        body: {
          instances: districts.map((d) => ({
            instanceName: `District ${stack.id} ${d} 2027`,
            odsInstanceContexts: [district(d), year('2027')],
          })),
        },
      });
      expect(r.status, JSON.stringify(r.body)).to.equal(201);
      expect(r.body.instances.map((i: any) => i.databaseName)).to.deep.equal(districts.map((d) => `t_x_${d}_2027`));
    });

    it('refuses, naming the items, missing keys and two items with the same contexts', async () => {
      const r = await stack.request('POST', BULK, {
        body: {
          instances: [
            { instanceName: `A ${stack.id}`, odsInstanceContexts: [district('1'), year('2027')] },
            { instanceName: `B ${stack.id}`, odsInstanceContexts: [year('2027')] },
            { instanceName: `C ${stack.id}`, odsInstanceContexts: [year('2027'), district('1')] },
          ],
        },
      });
      expectProblem(r, 400, ['instances[1].odsInstanceContexts', 'instances[2].odsInstanceContexts']);
      expect(Object.keys(r.body.errors)).not.to.include('instances[0].odsInstanceContexts');
      expect(await stack.dataSource.getRepository(InstanceEntity).count()).to.equal(3);
    });
  });

  describe('with Redis unreachable', () => {
    let stack: Stack;
    let server: Server;
    let baseUrl: string;
    let unreachable: RedisClient;
    before(async () => {
      stack = await startStack({ worker: false });
      // An API of the same deployment whose queue points at a closed port: every enqueue fails.
      const config = { ...stack.apiConfig, redis: { ...stack.apiConfig.redis, url: 'redis://127.0.0.1:1' } };
      const redis = redisConnection(config.redis.url, { enableOfflineQueue: false });
      redis.on('error', () => undefined);
      unreachable = redis;
      const queue = createQueue(redis, config.redis.prefix, stack.deploymentId);
      queue.on('error', () => undefined);
      const tokens = new TokenService(config.tokens.signingKey!, {
        ...config.tokens,
        deploymentId: stack.deploymentId,
      });
      const app = createApp({
        config,
        dataSource: stack.dataSource,
        queue,
        redis,
        deploymentId: stack.deploymentId,
        tokens,
        logger: silentLogger(),
      });
      server = await new Promise<Server>((resolve) => {
        const s = app.listen(0, '127.0.0.1', () => resolve(s));
      });
      baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    after(async () => {
      server?.closeAllConnections();
      await new Promise((resolve) => server?.close(resolve));
      unreachable?.disconnect();
      await stack?.stop();
    });

    it('still accepts the batch, keeps every job queued, and a worker’s reconciler later finishes them all', async () => {
      const instances = [1, 2].map((n) => ({
        instanceName: `No Redis ${stack.id} ${n}`,
        databaseName: stack.db(`nr_${n}`),
      }));
      const response = await fetch(`${baseUrl}${BULK}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${stack.tokens.full}`, 'content-type': 'application/json' },
        body: JSON.stringify({ instances }),
      });
      expect(response.status).to.equal(201);
      const created = ((await response.json()) as { instances: { id: string; job: { id: string } }[] }).instances;
      const jobs = await stack.dataSource.getRepository(JobEntity).findBy({});
      expect(jobs.map((j) => j.status)).to.deep.equal(['queued', 'queued']);

      await stack.startWorker();
      for (const [i, c] of created.entries()) {
        const done = await stack.waitForStatus(c.id, 'Created');
        expect(done.job).to.include({ id: c.job.id, status: 'succeeded' });
        expect(await databaseExists(instances[i]!.databaseName)).to.equal(true);
      }
    });
  });
});
