import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import { Client } from 'pg';
import { JobEntity } from '../shared/database/entities';
import { quote } from '../worker/engines/postgres/names';
import { sleep } from '../shared/retry';
import { silentLogger } from '../shared/logger';
import { createDriver } from '../worker/engines/registry';
import { ED_FI_SCALE, ensureStandInTemplate } from '../worker/templates/stand-in';
import { databasesLike, dropDatabases, shapeOf, withServer } from '../test/support/ods-server';
import { EDFI_TEMPLATE, POSTGRES_URL } from '../test/support/settings';
import { Stack } from '../test/support/stack';
import { cpuTicks, positiveInt, progress, runBenchmark } from './support';

/**
 * Create latency on an Ed-Fi-sized template:
 *   (a) bare `CREATE DATABASE x TEMPLATE t STRATEGY = …` on one open connection, timed around the statement;
 *   (b) end to end through the product: POST /admin/instances, then GET every POLL_MS until `Created`
 *       (an API and an in-process worker from test/support/stack.ts, on an isolated admin database).
 * Both for STRATEGY = FILE_COPY and WAL_LOG, interleaved, BENCH_ITERATIONS each (default 10), after
 * one untimed warm-up round. Prints markdown on stdout; progress goes to stderr.
 * On a shared machine other work (test runs, builds) competes for CPU and disk and can multiply a
 * clone's time, so each timed sample first waits for the CPUs to be idle (BENCH_QUIET_IDLE, default
 * 0.8, for up to BENCH_QUIET_TIMEOUT_S, default 300 s; 0 disables) and the report says how idle they were.
 * Every database it makes is dropped at the end (bench ones directly, instances by Stack.stop()), not after
 * each sample: on ext4 without a journal (as on the test VMs) the kernel avoids reusing inodes freed in
 * the last 1–5 minutes, so creating ~2,700 files right after dropping as many costs seconds of system
 * time in inode allocation (`recently_deleted` in perf) — an artefact of file churn, not of the product.
 */

const ITERATIONS = positiveInt(process.env.BENCH_ITERATIONS, 10);
const POLL_MS = positiveInt(process.env.BENCH_POLL_MS, 20);
/** Before each timed sample, wait (at most this long) until the machine's CPUs are this idle; 0 turns the wait off. */
const QUIET_TIMEOUT_S = Number(process.env.BENCH_QUIET_TIMEOUT_S ?? 300);
const QUIET_IDLE = Number(process.env.BENCH_QUIET_IDLE ?? 0.8);
/** An untimed CHECKPOINT before each timed sample (BENCH_CHECKPOINT=0 turns it off). */
const CHECKPOINT = !['0', 'false', 'no', 'off'].includes((process.env.BENCH_CHECKPOINT ?? '1').toLowerCase());
const STRATEGIES = ['file_copy', 'wal_log'] as const;
type Strategy = (typeof STRATEGIES)[number];

const RUN_ID = randomBytes(3).toString('hex');
/** Set by SIGINT/SIGTERM: the run stops at the next step and cleans up. */
let interrupted = false;
const BARE_PREFIX = `odsim_bench_${RUN_ID}_`;

const elapsedMs = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e6;

interface Stats {
  n: number;
  min: number;
  median: number;
  p95: number;
  max: number;
}

function stats(samples: number[]): Stats {
  const s = [...samples].sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) throw new Error('no samples');
  // Every index below is in [0, n).
  const median = n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
  const p95 = s[Math.min(n - 1, Math.ceil(0.95 * n) - 1)]!; // nearest rank
  return { n, min: s[0]!, median, p95, max: s[n - 1]! };
}

const fmt = (ms: number) => ms.toFixed(1);

/** Measures the share of CPU time that was idle while `work` ran (NaN where /proc/stat is missing). */
async function idleDuring<T>(work: () => Promise<T>): Promise<{ value: T; idle: number }> {
  const before = cpuTicks();
  const value = await work();
  const after = cpuTicks();
  const idle =
    before && after && after.total > before.total ? (after.idle - before.idle) / (after.total - before.total) : NaN;
  return { value, idle };
}

/** Waits until the CPUs have been at least QUIET_IDLE idle for three 500 ms windows in a row. False on timeout. */
async function waitForQuiet(): Promise<boolean> {
  if (!(QUIET_TIMEOUT_S > 0) || !cpuTicks()) return true;
  const started = Date.now();
  const deadline = started + QUIET_TIMEOUT_S * 1000;
  let calm = 0;
  let announced = false;
  while (Date.now() < deadline && !interrupted) {
    const { idle } = await idleDuring(() => sleep(500));
    calm = idle >= QUIET_IDLE ? calm + 1 : 0;
    if (calm >= 3) return true;
    if (!announced && Date.now() - started > 5000) {
      progress(
        `  waiting for the machine to be quiet (CPU idle now ${(100 * idle).toFixed(0)}%; want ≥${(100 * QUIET_IDLE).toFixed(0)}% for 1.5 s)`,
      );
      announced = true;
    }
  }
  if (interrupted) return true;
  progress(`  machine still busy after ${QUIET_TIMEOUT_S} s: taking the sample anyway (counted as noisy)`);
  return false;
}

interface Samples {
  bare: number[];
  e2e: number[];
  /** POST /admin/instances until its 201. */
  post: number[];
  /** Job row created (by the API) until a worker marked it running. */
  pickup: number[];
  /** Job row running until finished: the worker's whole create (clone, mark, check writable, rename). */
  run: number[];
  /** Created in the DB (job finished_at) until the poller saw it. */
  seen: number[];
  retries: number;
  /** CPU idle share while each bare / e2e sample ran. */
  bareIdle: number[];
  e2eIdle: number[];
  /** Samples taken although the machine never became quiet. */
  noisy: number;
}

const newSamples = (): Samples => ({
  bare: [],
  e2e: [],
  post: [],
  pickup: [],
  run: [],
  seen: [],
  retries: 0,
  bareIdle: [],
  e2eIdle: [],
  noisy: 0,
});

/** Runs `work`, retrying (untimed, not counted) while the template is in use by someone else (55006). */
async function unlessTemplateBusy<T>(work: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (err) {
      if ((err as { code?: string }).code !== '55006' || attempt >= 50) throw err;
      progress(`  template busy (55006), retrying in 200 ms`);
      await sleep(200);
    }
  }
}

async function bareCreate(client: Client, strategy: Strategy, name: string): Promise<number> {
  const sql = `CREATE DATABASE ${quote(name)} TEMPLATE ${quote(EDFI_TEMPLATE)} STRATEGY = ${strategy.toUpperCase()}`;
  return unlessTemplateBusy(async () => {
    const start = process.hrtime.bigint();
    await client.query(sql);
    return elapsedMs(start);
  });
}

async function productCreate(
  stack: Stack,
  suffix: string,
  out: Samples | undefined,
  onTimed?: () => void,
): Promise<number> {
  const start = process.hrtime.bigint();
  const created = await stack.request('POST', '/admin/instances', {
    body: { instanceName: `Bench ${RUN_ID} ${suffix}`, databaseName: stack.db(suffix) },
  });
  const postMs = elapsedMs(start);
  if (created.status !== 201)
    throw new Error(`POST /admin/instances: ${created.status} ${JSON.stringify(created.body)}`);
  const id: string = created.body.id;
  let total: number;
  let seenAt: number;
  for (;;) {
    const r = await stack.request('GET', `/admin/instances/${id}`);
    if (r.status !== 200) throw new Error(`GET /admin/instances/${id}: ${r.status} ${JSON.stringify(r.body)}`);
    if (r.body.status === 'Created') {
      total = elapsedMs(start);
      seenAt = Date.now();
      onTimed?.();
      break;
    }
    if (r.body.status === 'CreateFailed') throw new Error(`instance ${id} CreateFailed: ${r.body.lastError}`);
    if (elapsedMs(start) > 300_000) throw new Error(`instance ${id} still ${r.body.status} after 300 s`);
    await sleep(POLL_MS);
  }
  const job = await stack.dataSource.getRepository(JobEntity).findOneByOrFail({ instanceId: id, type: 'create' });
  if (out) {
    out.e2e.push(total);
    out.post.push(postMs);
    out.pickup.push(job.startedAt!.getTime() - job.createdAt.getTime());
    out.run.push(job.finishedAt!.getTime() - job.startedAt!.getTime());
    out.seen.push(seenAt - job.finishedAt!.getTime());
    out.retries += job.attempts - 1;
  }
  return total;
}

/** The one row of a query that always returns exactly one. */
function onlyRow<T>(rows: T[]): T {
  const row = rows[0];
  if (!row) throw new Error('expected one row, got none');
  return row;
}

async function serverFacts(): Promise<Record<string, string>> {
  return withServer(async (c) => {
    const facts: Record<string, string> = {};
    facts.version = onlyRow((await c.query<{ v: string }>('SELECT version() AS v')).rows).v;
    for (const setting of [
      'shared_buffers',
      'fsync',
      'synchronous_commit',
      'wal_level',
      'full_page_writes',
      'max_wal_size',
    ]) {
      facts[setting] = onlyRow((await c.query<{ s: string }>(`SELECT current_setting($1) AS s`, [setting])).rows).s;
    }
    facts.templateSize = onlyRow(
      (await c.query<{ s: string }>('SELECT pg_size_pretty(pg_database_size($1)) AS s', [EDFI_TEMPLATE])).rows,
    ).s;
    return facts;
  });
}

async function main(): Promise<void> {
  const onSignal = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    progress('interrupted: finishing the current step and cleaning up (Ctrl-C again to quit at once)');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const log = silentLogger();
  progress(`template ${EDFI_TEMPLATE}: ensuring it exists (the first build takes a while)`);
  await ensureStandInTemplate(POSTGRES_URL, EDFI_TEMPLATE, ED_FI_SCALE, log);
  const shape = await shapeOf(EDFI_TEMPLATE);
  const facts = await serverFacts();

  const stacks = new Map<Strategy, Stack>();
  const bare = new Client({ connectionString: POSTGRES_URL, application_name: 'odsim-bench' });
  bare.on('error', () => undefined);
  const results = new Map<Strategy, Samples>(STRATEGIES.map((s) => [s, newSamples()]));
  try {
    await bare.connect();
    for (const strategy of STRATEGIES) {
      // The product's defaults for everything that is not about isolation (the test stack speeds some up).
      const options = {
        worker: false,
        logger: log,
        env: {
          ODS_PG_CREATE_STRATEGY: strategy,
          RECONCILE_INTERVAL_MS: '5000',
          JOB_LOCK_DURATION_MS: '60000',
          STALLED_INTERVAL_MS: '30000',
          GLOBAL_CONCURRENCY: '2',
          WORKER_CONCURRENCY: '2',
        },
      };
      // Registered before it starts, so a failed start is cleaned up too (what startStack() does, in two steps).
      const stack = new Stack(options);
      stacks.set(strategy, stack);
      await stack.start(options);
      // The driver as worker/main.ts builds it, so ODS_PG_CREATE_STRATEGY reaches CREATE DATABASE.
      await stack.startWorker({}, createDriver(stack.workerConfig, log));
    }

    progress(`warm-up round (untimed)`);
    for (const strategy of STRATEGIES) {
      await bareCreate(bare, strategy, `${BARE_PREFIX}warmup_${strategy}`);
      await productCreate(stacks.get(strategy)!, `warmup`, undefined);
    }

    for (let i = 0; i < ITERATIONS && !interrupted; i++) {
      // Alternate which strategy and which measurement goes first, so neither always follows the other.
      const order = i % 2 ? [...STRATEGIES].reverse() : [...STRATEGIES];
      for (const strategy of order) {
        if (interrupted) break;
        const out = results.get(strategy)!;
        // Every sample starts from clean shared buffers (an untimed CHECKPOINT) on a quiet machine. Without
        // the checkpoint a FILE_COPY clone, which checkpoints first, would pay for writing out the ~40 MB
        // that the WAL_LOG clone just before it left dirty, and the interleaving would decide the result.
        const settle = async () => {
          if (CHECKPOINT) await bare.query('CHECKPOINT');
          if (!(await waitForQuiet())) out.noisy++;
        };
        const steps = [
          async () => {
            await settle();
            const { value, idle } = await idleDuring(() =>
              bareCreate(bare, strategy, `${BARE_PREFIX}${i}_${strategy}`),
            );
            out.bare.push(value);
            out.bareIdle.push(idle);
          },
          async () => {
            await settle();
            const before = cpuTicks();
            let after: ReturnType<typeof cpuTicks>;
            await productCreate(stacks.get(strategy)!, `b${i}`, out, () => {
              after = cpuTicks();
            });
            out.e2eIdle.push(
              before && after! ? (after.idle - before.idle) / Math.max(1, after.total - before.total) : NaN,
            );
          },
        ];
        if ((i >> 1) % 2) steps.reverse();
        for (const step of steps) await step();
        progress(
          `  ${i + 1}/${ITERATIONS} ${strategy}: bare ${fmt(out.bare.at(-1)!)} ms, e2e ${fmt(out.e2e.at(-1)!)} ms` +
            ` (POST ${fmt(out.post.at(-1)!)}, pickup ${out.pickup.at(-1)}, worker ${out.run.at(-1)}, seen after ${out.seen.at(-1)})`,
        );
      }
    }
    if (interrupted) throw new Error('interrupted');

    const lines: string[] = [];
    lines.push(
      `Template \`${EDFI_TEMPLATE}\`: ${shape.tablesAndViews} tables and views, ${shape.relations} relations, ${facts.templateSize}.`,
    );
    lines.push(
      `${facts.version}; shared_buffers=${facts.shared_buffers}, fsync=${facts.fsync}, synchronous_commit=${facts.synchronous_commit}, wal_level=${facts.wal_level}, full_page_writes=${facts.full_page_writes}, max_wal_size=${facts.max_wal_size}.`,
    );
    lines.push(
      `${ITERATIONS} iterations per measurement, interleaved, after one untimed warm-up round; ${CHECKPOINT ? 'an untimed CHECKPOINT before each sample' : 'no CHECKPOINT between samples'}; poll interval ${POLL_MS} ms; p95 is nearest-rank.`,
    );
    const pct = (xs: number[]) =>
      xs.some(Number.isNaN)
        ? 'n/a'
        : `${(100 * stats(xs).median).toFixed(0)}% (lowest ${(100 * stats(xs).min).toFixed(0)}%)`;
    lines.push(
      `${cpus().length} CPUs. Each timed sample waited for the CPUs to be ≥${(100 * QUIET_IDLE).toFixed(0)}% idle (timeout ${QUIET_TIMEOUT_S} s); ` +
        STRATEGIES.map((s) => {
          const r = results.get(s)!;
          return `${s.toUpperCase()}: ${r.noisy} of ${2 * ITERATIONS} samples taken while still busy, CPU idle during bare ${pct(r.bareIdle)}, during e2e ${pct(r.e2eIdle)}`;
        }).join('; ') +
        '.',
    );
    lines.push('');
    lines.push('| strategy | measurement | n | min ms | median ms | p95 ms | max ms |');
    lines.push('| --- | --- | ---: | ---: | ---: | ---: | ---: |');
    const row = (strategy: string, what: string, s: Stats) =>
      lines.push(
        `| ${strategy} | ${what} | ${s.n} | ${fmt(s.min)} | ${fmt(s.median)} | ${fmt(s.p95)} | ${fmt(s.max)} |`,
      );
    for (const strategy of STRATEGIES) {
      const r = results.get(strategy)!;
      row(strategy.toUpperCase(), 'bare `CREATE DATABASE … TEMPLATE`', stats(r.bare));
      row(strategy.toUpperCase(), 'end to end (POST → GET shows Created)', stats(r.e2e));
    }
    lines.push('');
    lines.push('| strategy | median bare ms | median e2e ms | overhead ms (median e2e − median bare) | overhead % |');
    lines.push('| --- | ---: | ---: | ---: | ---: |');
    for (const strategy of STRATEGIES) {
      const r = results.get(strategy)!;
      const b = stats(r.bare).median;
      const e = stats(r.e2e).median;
      lines.push(`| ${strategy.toUpperCase()} | ${fmt(b)} | ${fmt(e)} | ${fmt(e - b)} | ${fmt((100 * (e - b)) / b)} |`);
    }
    lines.push('');
    lines.push("Where the end-to-end time goes (medians, ms; from the job row's timestamps, so ±1 ms):");
    lines.push('');
    lines.push(
      '| strategy | POST → 201 | job queued → running (pickup) | running → finished (worker: clone, mark, check, rename) | finished → seen by poller | job retries |',
    );
    lines.push('| --- | ---: | ---: | ---: | ---: | ---: |');
    for (const strategy of STRATEGIES) {
      const r = results.get(strategy)!;
      lines.push(
        `| ${strategy.toUpperCase()} | ${fmt(stats(r.post).median)} | ${fmt(stats(r.pickup).median)} | ${fmt(stats(r.run).median)} | ${fmt(stats(r.seen).median)} | ${r.retries} |`,
      );
    }
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    progress('cleaning up');
    for (const stack of stacks.values())
      await stack.stop().catch((err) => progress(`stack clean-up failed: ${(err as Error).message}`));
    await bare.end().catch(() => undefined);
    await dropDatabases(await databasesLike(BARE_PREFIX)).catch((err) =>
      progress(`clean-up failed: ${(err as Error).message}`),
    );
    const left = [
      ...(await databasesLike(BARE_PREFIX)),
      ...(
        await Promise.all(
          [...stacks.values()].flatMap((s) => [databasesLike(`t_${s.id}_`), databasesLike(`odsim_t_${s.id}`)]),
        )
      ).flat(),
    ];
    if (left.length) progress(`WARNING: databases left behind: ${left.join(', ')}`);
  }
}

runBenchmark(main);
