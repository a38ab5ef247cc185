import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { Socket } from 'node:net';
import IORedis from 'ioredis';
import { Client } from 'pg';
import { loadWorkerConfig } from '../shared/config';
import { createAdminDataSource, prepareAdminDatabase } from '../shared/database/data-source';
import { readDeploymentId } from '../shared/deployment/identity';
import { addJobs, createQueue, redisConnection } from '../shared/jobs/queue';
import { silentLogger } from '../shared/logger';
import { Reconciler, ReconcileReport } from '../worker/reconciler';
import { dropDatabases, withServer } from '../test/support/ods-server';
import { insertUnfinishedJobs } from '../test/support/job-rows';
import { PrivateRedis } from '../test/support/processes';
import { EDFI_TEMPLATE, POSTGRES_URL, urlFor } from '../test/support/settings';
import { appendResults, machineLine, percentile, positiveInt, progress, runBenchmark } from './support';

/**
 * One reconciler pass (worker/reconciler.ts) over BENCH_RECONCILE_JOBS (10,000) unfinished job rows,
 * each with its instance, inserted directly into an isolated admin database; their BullMQ jobs are
 * added to a queue on a private redis-server (test/support/processes.ts), except every
 * BENCH_RECONCILE_MISSING_EVERY-th (10th: 1,000 of 10,000), spread over the whole creation order.
 * Before each pass (untimed) the jobs a previous pass put back are removed again, so every pass has
 * the same work. Measured per pass, over BENCH_RECONCILE_PASSES (10) after one untimed warm-up:
 * wall time around `runOnce()`; Redis round trips (writes on the sockets to the private server) and
 * the commands Redis executed (`INFO commandstats` delta, commands inside Lua scripts included);
 * admin-database queries (calls of pg's `Client.query` in this process). No worker runs: the jobs
 * stay waiting. Prints markdown on stdout and appends it to docs/benchmarks.md; progress on stderr.
 */

const JOBS = positiveInt(process.env.BENCH_RECONCILE_JOBS, 10_000);
const MISSING_EVERY = positiveInt(process.env.BENCH_RECONCILE_MISSING_EVERY, 10);
const PASSES = positiveInt(process.env.BENCH_RECONCILE_PASSES, 10);
/** BullMQ jobs added per addBulk while setting up. */
const CHUNK = 500;

const elapsedMs = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e6;

/** Counts what this process sends while `counting` is on: Redis writes to one port, pg queries. */
const counters = { counting: false, redisWrites: 0, adminQueries: 0, adminMs: 0, redisPort: 0 };
function instrument(): void {
  const write = Reflect.get(Socket.prototype, 'write') as (this: Socket, ...args: unknown[]) => boolean;
  Socket.prototype.write = function (this: Socket, ...args: unknown[]) {
    if (counters.counting && this.remotePort === counters.redisPort) counters.redisWrites++;
    return write.apply(this, args);
  };
  const query = Reflect.get(Client.prototype, 'query') as (this: Client, ...args: unknown[]) => unknown;
  Client.prototype.query = function (this: Client, ...args: unknown[]) {
    if (!counters.counting) return query.apply(this, args);
    counters.adminQueries++;
    // Time until the answer, whether the caller passed a callback (as TypeORM does) or awaits a promise.
    const start = process.hrtime.bigint();
    const done = () => (counters.adminMs += elapsedMs(start));
    const callback = args[args.length - 1];
    if (typeof callback === 'function') {
      args[args.length - 1] = (...results: unknown[]) => {
        done();
        return (callback as (...r: unknown[]) => unknown)(...results);
      };
      return query.apply(this, args);
    }
    const result = query.apply(this, args);
    if (result instanceof Promise) result.then(done, done);
    return result;
  } as Client['query'];
}

/** Commands Redis executed since the last CONFIG RESETSTAT, by name (INFO/CONFIG left out). */
async function commandStats(client: IORedis): Promise<Map<string, number>> {
  const text = await client.info('commandstats');
  const calls = new Map<string, number>();
  for (const m of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm))
    if (m[1] !== 'info' && m[1] !== 'config') calls.set(m[1]!, Number(m[2]));
  return calls;
}

interface Pass {
  ms: number;
  roundTrips: number;
  commands: number;
  scripts: number;
  adminQueries: number;
  /** Wall time from sending each admin query until its answer, summed. */
  adminMs: number;
  report: ReconcileReport;
}

async function main(): Promise<void> {
  instrument();
  const serverVersion = await withServer(async (c) => (await c.query('SHOW server_version')).rows[0].server_version);
  const machine = machineLine(serverVersion);
  const id = randomBytes(4).toString('hex');
  const adminDatabase = `odsim_bench_rec_${id}`;
  const redis = await PrivateRedis.start();
  counters.redisPort = redis.port;
  const config = loadWorkerConfig({
    NODE_ENV: 'test',
    ADMIN_DATABASE_URL: urlFor(adminDatabase),
    REDIS_URL: redis.url,
    QUEUE_PREFIX: `odsimb_${id}`,
    ODS_SERVER_URL: POSTGRES_URL,
    ODS_TEMPLATE_DATABASE: EDFI_TEMPLATE,
  });
  const log = silentLogger();
  const dataSource = createAdminDataSource(config.adminDatabase);
  const connection = redisConnection(config.redis.target);
  const stats = new IORedis(redis.url);
  const lossy: Pass[] = [];
  const steady: Pass[] = [];
  const missingCount = Math.ceil(JOBS / MISSING_EVERY);
  try {
    await prepareAdminDatabase(dataSource, config.adminDatabase, log);
    const queue = createQueue(connection, config.redis.prefix, await readDeploymentId(dataSource));

    progress(`inserting ${JOBS} instances and unfinished jobs`);
    const jobs = await insertUnfinishedJobs(dataSource, JOBS, `odsim_bench_${id}`);
    const missing = jobs.filter((_, i) => i % MISSING_EVERY === 0);
    const present = jobs.filter((_, i) => i % MISSING_EVERY !== 0);
    progress(`adding ${present.length} BullMQ jobs; ${missing.length} left missing`);
    for (let from = 0; from < present.length; from += CHUNK) await addJobs(queue, present.slice(from, from + CHUNK));

    const reconciler = new Reconciler(
      dataSource,
      queue,
      log,
      3_600_000,
      () => queue.setGlobalConcurrency(config.concurrency.global + config.concurrency.perWorker),
      // As with the PostgreSQL driver: the pass also looks for copy sources left shut.
      () => Promise.resolve(),
    );
    // First with the missing jobs taken away again before each pass (untimed), so every pass puts
    // back the same ones; then the steady state, where every job is there and nothing is put back.
    for (const [set, takeAway] of [
      [lossy, true],
      [steady, false],
    ] as const) {
      for (let pass = 0; pass <= PASSES; pass++) {
        if (takeAway) await Promise.all(missing.map((job) => queue.remove(job.id)));
        await stats.config('RESETSTAT');
        Object.assign(counters, { counting: true, redisWrites: 0, adminQueries: 0, adminMs: 0 });
        const start = process.hrtime.bigint();
        const report = await reconciler.runOnce();
        const ms = elapsedMs(start);
        counters.counting = false;
        const calls = await commandStats(stats);
        const scripts = (calls.get('evalsha') ?? 0) + (calls.get('eval') ?? 0);
        const commands = [...calls.values()].reduce((a, b) => a + b, 0);
        const figures = {
          ms,
          roundTrips: counters.redisWrites,
          commands,
          scripts,
          adminQueries: counters.adminQueries,
          adminMs: counters.adminMs,
        };
        progress(
          `  pass ${pass}${pass ? '' : ' (warm-up)'}: ${ms.toFixed(1)} ms, ${figures.roundTrips} Redis round trips, ` +
            `${commands} commands (${scripts} scripts), ${figures.adminQueries} admin queries (${figures.adminMs.toFixed(1)} ms); ${JSON.stringify(report)}`,
        );
        if (pass) set.push({ ...figures, report });
      }
    }
    await queue.close();
  } finally {
    connection.disconnect();
    stats.disconnect();
    await redis.stop();
    if (dataSource.isInitialized) await dataSource.destroy();
    await dropDatabases([adminDatabase]);
  }

  const table = (passes: Pass[]) => {
    const column = (pick: (p: Pass) => number) => passes.map(pick);
    const line = (what: string, pick: (p: Pass) => number, digits = 0) => {
      const values = column(pick);
      const cells = [percentile(values, 50), percentile(values, 95), Math.max(...values)].map((v) => v.toFixed(digits));
      return `| ${what} | ${cells.join(' | ')} |`;
    };
    const { unfinished, enqueued } = passes[0]!.report;
    return [
      `Each pass reported ${unfinished} unfinished rows looked at, ${enqueued} jobs enqueued again.`,
      '',
      '| per pass | median | p95 | max |',
      '| --- | ---: | ---: | ---: |',
      line('time (ms)', (p) => p.ms, 1),
      line('Redis round trips', (p) => p.roundTrips),
      line('Redis commands executed (inside scripts included)', (p) => p.commands),
      line('of which scripts (EVALSHA)', (p) => p.scripts),
      line('admin-database queries', (p) => p.adminQueries),
      line('of the time: waiting for the admin database (ms)', (p) => p.adminMs, 1),
    ];
  };
  appendResults(
    `Reconciler at scale: run of ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`,
    [
      machine,
      '',
      `${JOBS} unfinished job rows (1 in 7 \`running\`, the rest \`queued\`) on a private redis-server; ${PASSES} passes ` +
        'of each kind after one warm-up. Target: a pass in under 1 s, Redis calls batched.',
      '',
      `**With ${missingCount} BullMQ jobs missing** (every ${MISSING_EVERY}th in creation order, taken away again before each pass):`,
      '',
      ...table(lossy),
      '',
      '**Steady state** (every job present, nothing to put back):',
      '',
      ...table(steady),
    ].join('\n'),
  );
}

runBenchmark(main);
