import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { InstanceEntity } from '../../shared/database/entities';
import { connectTo, withServer } from '../support/ods-server';
import { REDIS_URL, SMALL_TEMPLATE } from '../support/settings';
import { type Sample, scrape, valueOf } from '../support/metrics';
import { ApiProcess, freePort, PrivateRedis } from '../support/processes';
import { Stack, startStack, type WorkerHandle } from '../support/stack';
import { waitFor } from '../support/wait';
import { createQueue, redisConnection } from '../../shared/jobs/queue';

/** The change of one series between two scrapes (a series absent before counts from 0). */
function delta(before: Sample[], after: Sample[], name: string, labels: Record<string, string>): number {
  const now = valueOf(after, name, labels);
  if (now === undefined) throw new Error(`${name}${JSON.stringify(labels)} is missing from the scrape`);
  return now - (valueOf(before, name, labels) ?? 0);
}

/**
 * A scrape once `done` holds of it: the worker counts a job's end just after writing it, and BullMQ
 * completes the delivery just after that, so an instance's status may be seen a moment earlier.
 */
function scrapeUntil(url: string, done: (s: Sample[]) => boolean, token?: string): Promise<Sample[]> {
  return waitFor(async () => {
    const samples = await scrape(url, token);
    return done(samples) ? samples : undefined;
  }, `a scrape of ${url} showing the jobs' ends`);
}

describe('metrics', () => {
  let stack: Stack;
  let worker: WorkerHandle;
  let workerUrl: string;
  let redis: PrivateRedis | undefined;

  before(async () => {
    stack = await startStack({
      worker: false,
      // The small template keeps the clones quick; a short lock timeout, the retries.
      env: {
        ODS_TEMPLATES: JSON.stringify([{ name: 'small', database: SMALL_TEMPLATE }]),
        TRANSIENT_RETRY_ATTEMPTS: '40',
        TRANSIENT_RETRY_BASE_MS: '100',
        TRANSIENT_RETRY_MAX_MS: '300',
        ODS_LOCK_TIMEOUT_MS: '200',
      },
    });
    // METRICS_PORT=0: any free port; METRICS_HOST left unset.
    worker = await stack.startWorker({ METRICS_PORT: '0' });
    workerUrl = `http://127.0.0.1:${worker.metricsListener!.address.port}`;
  });
  after(async () => {
    await stack.stop();
    await redis?.stop();
  });

  it("moves the worker's job, duration, clone and error metrics by exactly one succeeded and one refused create", async () => {
    const before = await scrape(`${workerUrl}/metrics`);
    await stack.createInstance('ok');
    const taken = stack.db('taken');
    await withServer((c) => c.query(`CREATE DATABASE ${c.escapeIdentifier(taken)}`));
    const r = await stack.request('POST', '/admin/instances', {
      body: { instanceName: `Taken ${stack.id}`, databaseName: taken },
    });
    await stack.waitForStatus(r.body.id, 'CreateFailed');
    const after = await scrapeUntil(
      `${workerUrl}/metrics`,
      (s) => delta(before, s, 'odsim_jobs_total', { type: 'create', outcome: 'failed' }) >= 1,
    );

    const moved = (name: string, labels: Record<string, string>) => delta(before, after, name, labels);
    expect(moved('odsim_jobs_total', { type: 'create', outcome: 'succeeded' })).to.equal(1);
    expect(moved('odsim_jobs_total', { type: 'create', outcome: 'failed' })).to.equal(1);
    expect(moved('odsim_jobs_total', { type: 'create', outcome: 'retried' })).to.equal(0);
    expect(moved('odsim_jobs_total', { type: 'delete', outcome: 'succeeded' })).to.equal(0);
    expect(moved('odsim_job_duration_seconds_count', { type: 'create', outcome: 'succeeded' })).to.equal(1);
    expect(moved('odsim_job_duration_seconds_count', { type: 'create', outcome: 'failed' })).to.equal(1);
    expect(moved('odsim_job_duration_seconds_sum', { type: 'create', outcome: 'succeeded' })).to.be.greaterThan(0);
    // Only the create that succeeded cloned; the refused one stopped at the database it does not own.
    expect(moved('odsim_copy_duration_seconds_count', { engine: 'postgres' })).to.equal(1);
    expect(moved('odsim_copy_duration_seconds_sum', { engine: 'postgres' })).to.be.greaterThan(0);
    expect(moved('odsim_database_server_errors_total', { engine: 'postgres', class: 'refused' })).to.equal(1);
    expect(moved('odsim_database_server_errors_total', { engine: 'postgres', class: 'transient' })).to.equal(0);
    expect(moved('odsim_database_server_errors_total', { engine: 'postgres', class: 'permanent' })).to.equal(0);
    expect(valueOf(after, 'odsim_reconciler_reenqueued_total')).to.equal(0);
    expect(valueOf(after, 'process_cpu_user_seconds_total')).to.be.greaterThan(0);

    // The API sees the same two jobs done, from Redis: both deliveries completed (a failed job ends its delivery).
    const api = await scrapeUntil(
      `${stack.baseUrl}/metrics`,
      (s) => valueOf(s, 'odsim_queue_jobs', { state: 'active' }) === 0,
      stack.tokens.read,
    );
    expect(valueOf(api, 'odsim_queue_up')).to.equal(1);
    expect(valueOf(api, 'odsim_queue_jobs', { queue: 'operations', state: 'completed' })).to.equal(2);
    expect(valueOf(api, 'odsim_queue_jobs', { queue: 'operations', state: 'waiting' })).to.equal(0);
    expect(valueOf(api, 'odsim_queue_jobs', { queue: 'operations', state: 'waiting-children' })).to.equal(0);
    expect(valueOf(api, 'odsim_workers')).to.equal(1);
    expect(valueOf(api, 'odsim_instances', { status: 'Created' })).to.equal(1);
    expect(valueOf(api, 'odsim_instances', { status: 'CreateFailed' })).to.equal(1);
  });

  it('counts API requests under their route pattern, never the URL', async () => {
    const read = () => scrape(`${stack.baseUrl}/metrics`, stack.tokens.read);
    const existing = await stack.dataSource.getRepository(InstanceEntity).findOneBy({ status: 'Created' });
    const id = existing?.id ?? (await stack.createInstance('route')).id;
    const before = await read();
    await stack.request('GET', `/admin/instances/${id}`);
    await stack.request('GET', `/admin/instances/${id}`);
    await stack.request('GET', `/admin/instances/${randomUUID()}`);
    expect((await fetch(`${stack.baseUrl}/no/such/${randomUUID()}`)).status).to.equal(404);
    const after = await read();

    const requests = 'odsim_http_request_duration_seconds_count';
    const route = '/admin/instances/:id';
    expect(delta(before, after, requests, { method: 'GET', route, status: '200' })).to.equal(2);
    expect(delta(before, after, requests, { method: 'GET', route, status: '404' })).to.equal(1);
    expect(delta(before, after, requests, { method: 'GET', route: 'unmatched', status: '404' })).to.equal(1);
    const routes = new Set(after.filter((s) => s.name === requests).map((s) => s.labels.route));
    for (const r of routes) expect(r).not.to.match(/[0-9a-f]{8}-[0-9a-f]{4}|\/no\/such/);
  });

  it('counts each transient error a run retries, as retried and as a transient error', async () => {
    const instance = await stack.createInstance('locked');
    const before = await scrape(`${workerUrl}/metrics`);
    const retried = async () =>
      delta(before, await scrape(`${workerUrl}/metrics`), 'odsim_jobs_total', { type: 'delete', outcome: 'retried' });
    // An uncommitted change to the database's comment holds a lock that the drop waits on past
    // ODS_LOCK_TIMEOUT_MS (55P03, transient) until it is released.
    const holder = await connectTo('postgres');
    try {
      await holder.query('BEGIN');
      await holder.query(`COMMENT ON DATABASE ${holder.escapeIdentifier(instance.databaseName)} IS 'held'`);
      const del = await stack.request('DELETE', `/admin/instances/${instance.id}`);
      expect(del.status).to.equal(200);
      await waitFor(async () => (await retried()) >= 1, 'a retried delete', 20_000);
    } finally {
      await holder.query('ROLLBACK').catch(() => undefined);
      await holder.end();
    }
    await stack.waitForStatus(instance.id, 'Deleted');
    const after = await scrapeUntil(
      `${workerUrl}/metrics`,
      (s) => delta(before, s, 'odsim_jobs_total', { type: 'delete', outcome: 'succeeded' }) >= 1,
    );
    const moved = (name: string, labels: Record<string, string>) => delta(before, after, name, labels);
    const retries = moved('odsim_jobs_total', { type: 'delete', outcome: 'retried' });
    expect(retries).to.be.at.least(1);
    expect(moved('odsim_database_server_errors_total', { engine: 'postgres', class: 'transient' })).to.equal(retries);
    expect(moved('odsim_jobs_total', { type: 'delete', outcome: 'succeeded' })).to.equal(1);
    expect(moved('odsim_jobs_total', { type: 'delete', outcome: 'failed' })).to.equal(0);
    expect(moved('odsim_job_duration_seconds_count', { type: 'delete', outcome: 'succeeded' })).to.equal(1);
    expect(moved('odsim_copy_duration_seconds_count', { engine: 'postgres' })).to.equal(0);
  });

  it('counts an inventory run, and the API reports its age', async () => {
    const before = await scrape(`${workerUrl}/metrics`);
    expect((await stack.request('POST', '/admin/inventory')).status).to.equal(202);
    const after = await scrapeUntil(
      `${workerUrl}/metrics`,
      (s) => delta(before, s, 'odsim_inventory_runs_total', { outcome: 'succeeded' }) >= 1,
    );
    expect(delta(before, after, 'odsim_inventory_runs_total', { outcome: 'succeeded' })).to.equal(1);
    expect(delta(before, after, 'odsim_inventory_runs_total', { outcome: 'failed' })).to.equal(0);
    const api = await scrape(`${stack.baseUrl}/metrics`, stack.tokens.read);
    expect(valueOf(api, 'odsim_inventory_age_seconds')).to.be.within(0, 60);
  });

  it('serves the worker listener without a token, on loopback when METRICS_HOST is unset', async () => {
    expect(worker.metricsListener!.address.address).to.equal('127.0.0.1');
    const metrics = await fetch(`${workerUrl}/metrics`);
    expect(metrics.status).to.equal(200);
    expect(metrics.headers.get('content-type')).to.match(/^text\/plain/);
    const live = await fetch(`${workerUrl}/health/live`);
    expect([live.status, await live.json()]).to.deep.equal([200, { status: 'up' }]);
    const ready = await fetch(`${workerUrl}/health/ready`);
    expect([ready.status, await ready.json()]).to.deep.equal([
      200,
      { status: 'up', checks: { adminDatabase: 'up', redis: 'up' } },
    ]);
    expect((await fetch(`${workerUrl}/admin/instances`)).status).to.equal(404);
    expect((await fetch(`${workerUrl}/metrics`, { method: 'POST' })).status).to.equal(405);
  });

  it("serves the API's METRICS_PORT without a token while its own /metrics asks for one, and answers while Redis is down", async () => {
    redis = await PrivateRedis.start();
    const port = await freePort();
    const api = await ApiProcess.start({ ...stack.env, REDIS_URL: redis.url, METRICS_PORT: String(port) });
    try {
      expect((await fetch(`${api.baseUrl}/metrics`)).status).to.equal(401);
      const open = await waitFor(() => scrape(`http://127.0.0.1:${port}/metrics`), 'the metrics listener', 10_000);
      expect(valueOf(open, 'odsim_instances', { status: 'Created' })).to.be.at.least(1);
      expect(valueOf(open, 'odsim_queue_up')).to.equal(1);
      expect(valueOf(open, 'nodejs_eventloop_lag_seconds')).to.be.a('number');

      await redis.stop();
      const started = Date.now();
      const down = await scrape(`http://127.0.0.1:${port}/metrics`);
      expect(Date.now() - started).to.be.below(3000);
      expect(valueOf(down, 'odsim_queue_up')).to.equal(0);
      expect(valueOf(down, 'odsim_queue_jobs')).to.equal(undefined);
      expect(valueOf(down, 'odsim_workers')).to.equal(undefined);
      expect(valueOf(down, 'odsim_instances', { status: 'Created' })).to.be.at.least(1);
    } finally {
      api.kill();
      await api.exited;
    }
  });

  it("answers the worker's /health/ready with 503 while its Redis is stopped, and 200 once it is back", async () => {
    if (redis) await redis.start();
    else redis = await PrivateRedis.start();
    const own = await stack.startWorker({ REDIS_URL: redis.url, METRICS_PORT: '0' });
    const ready = `http://127.0.0.1:${own.metricsListener!.address.port}/health/ready`;
    const status = async () => {
      const r = await fetch(ready);
      return { status: r.status, body: (await r.json()) as { checks: Record<string, string> } };
    };
    expect((await status()).status).to.equal(200);
    await redis.stop();
    const down = await waitFor(async () => ((await status()).status === 503 ? status() : undefined), '503', 10_000);
    expect(down.body.checks).to.deep.equal({ adminDatabase: 'up', redis: 'down' });
    expect((await fetch(`http://127.0.0.1:${own.metricsListener!.address.port}/health/live`)).status).to.equal(200);
    await redis.start();
    await waitFor(async () => (await status()).status === 200, '200 again', 20_000);
  });
  it('counts a job the reconciler puts back on the queue after Redis lost its delivery', async () => {
    await stack.stopWorkers();
    const r = await stack.request('POST', '/admin/instances', {
      body: { instanceName: `Lost ${stack.id}`, databaseName: stack.db('lost') },
    });
    // What a flush of Redis does to this one job: its row is queued, its delivery gone.
    const connection = redisConnection(REDIS_URL);
    const queue = createQueue(connection, stack.apiConfig.redis.prefix, stack.deploymentId);
    try {
      await (await queue.getJob(r.body.job.id))!.remove();
    } finally {
      await queue.close();
      connection.disconnect();
    }
    const fresh = await stack.startWorker({ METRICS_PORT: '0' });
    await stack.waitForStatus(r.body.id, 'Created');
    const after = await scrapeUntil(
      `http://127.0.0.1:${fresh.metricsListener!.address.port}/metrics`,
      (s) => valueOf(s, 'odsim_jobs_total', { type: 'create', outcome: 'succeeded' }) === 1,
    );
    expect(valueOf(after, 'odsim_reconciler_reenqueued_total')).to.equal(1);
    expect(valueOf(after, 'odsim_jobs_total', { type: 'create', outcome: 'succeeded' })).to.equal(1);
  });
});
