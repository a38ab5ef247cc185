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
import { EventStream } from '../test/support/event-stream';
import { OtlpReceiver } from '../test/support/otlp-receiver';
import { startTracing, type Tracing } from '../shared/tracing/provider';
import { loadTracingSettings } from '../shared/tracing/settings';
import {
  appendResults,
  cpuTicks,
  idleShare,
  interruptible,
  machineLine,
  positiveInt,
  progress,
  quietGate,
  runBenchmark,
  stopRequest,
  waitForQuiet,
} from './support';

/**
 * Create overhead (issue 13, benchmark 1) on an Ed-Fi-sized template:
 *   (a) bare `CREATE DATABASE x TEMPLATE t STRATEGY = …` on one open connection, timed around the statement;
 *   (b) end to end through the product, from the POST /admin/instances being sent until the client
 *       learns `Created`: (poll) by GET /admin/instances/{id} every POLL_MS, (sse) from the
 *       `GET /admin/events` stream, opened once beforehand as a UI keeps it open
 *       (an API and an in-process worker from test/support/stack.ts, on an isolated admin database).
 * Both for STRATEGY = FILE_COPY and WAL_LOG (BENCH_STRATEGIES), interleaved, BENCH_ITERATIONS each
 * (default 20), after one untimed warm-up round. Then BENCH_SPORADIC (default 5) creates of the default
 * strategy each after BENCH_SPORADIC_IDLE_S (12) seconds of idleness, as an administrator's occasional
 * create meets the service: connection pools idle out. BENCH_TRACE=1 instead runs the creates with
 * tracing on (to an OTLP receiver in this process) and prints where the time of each create goes,
 * span by span. Prints markdown on stdout; progress goes to stderr.
 * On a shared machine other work (test runs, builds) competes for CPU and disk and can multiply a
 * clone's time, so each timed sample first waits for the CPUs to be idle (BENCH_QUIET_IDLE, default
 * 0.8, for up to BENCH_QUIET_TIMEOUT_S, default 300 s; 0 disables) and the report says how idle they were.
 * Every database it makes is dropped at the end (bench ones directly, instances by Stack.stop()), not after
 * each sample: on ext4 without a journal (as on the test VMs) the kernel avoids reusing inodes freed in
 * the last 1–5 minutes, so creating ~2,700 files right after dropping as many costs seconds of system
 * time in inode allocation (`recently_deleted` in perf) — an artefact of file churn, not of the product.
 */

const ITERATIONS = positiveInt(process.env.BENCH_ITERATIONS, 20);
const POLL_MS = positiveInt(process.env.BENCH_POLL_MS, 20);
/** Before each timed sample, wait (at most BENCH_QUIET_TIMEOUT_S) until the machine's CPUs are BENCH_QUIET_IDLE idle. */
const QUIET = quietGate({ idle: 0.8, timeoutS: 300 });
/** An untimed CHECKPOINT before each timed sample (BENCH_CHECKPOINT=0 turns it off). */
const CHECKPOINT = !['0', 'false', 'no', 'off'].includes((process.env.BENCH_CHECKPOINT ?? '1').toLowerCase());
const ALL_STRATEGIES = ['file_copy', 'wal_log'] as const;
type Strategy = (typeof ALL_STRATEGIES)[number];
const STRATEGIES: Strategy[] = (process.env.BENCH_STRATEGIES ?? ALL_STRATEGIES.join(','))
  .split(',')
  .map((x) => x.trim().toLowerCase())
  .filter(Boolean)
  .map((x) => {
    if (!(ALL_STRATEGIES as readonly string[]).includes(x)) throw new Error(`BENCH_STRATEGIES: unknown strategy ${x}`);
    return x as Strategy;
  });
/** Creates made after the pools have idled out (0 skips the phase), and how long each waits first. */
const SPORADIC = Number(process.env.BENCH_SPORADIC ?? 5);
const SPORADIC_IDLE_S = positiveInt(process.env.BENCH_SPORADIC_IDLE_S, 12);
/** Trace mode: tracing on, creates only (no bare), and a table of where each create's time goes. */
const TRACE = ['1', 'true', 'yes', 'on'].includes((process.env.BENCH_TRACE ?? '').toLowerCase());
const MODES = ['poll', 'sse'] as const;
type Mode = (typeof MODES)[number];

const RUN_ID = randomBytes(3).toString('hex');
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
  return { value, idle: idleShare(before) };
}

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
    facts.serverVersion = onlyRow(
      (await c.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows,
    ).v;
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

interface Samples {
  bare: number[];
  /** End to end, by mode: POST sent → client knows `Created`. */
  e2e: Record<Mode, number[]>;
  /** POST /admin/instances until its 201. */
  post: number[];
  /** Job row created (by the API) until a worker marked it running. */
  pickup: number[];
  /** Job row running until finished: the worker's whole create (clone, mark, rename, check writable). */
  run: number[];
  /** Finished in the admin database (job finished_at) until the client knew, by mode. */
  seen: Record<Mode, number[]>;
  retries: number;
  /** CPU idle share while each bare / e2e sample ran. */
  bareIdle: number[];
  e2eIdle: number[];
  /** Samples taken although the machine never became quiet. */
  noisy: number;
}

const newSamples = (): Samples => ({
  bare: [],
  e2e: { poll: [], sse: [] },
  post: [],
  pickup: [],
  run: [],
  seen: { poll: [], sse: [] },
  retries: 0,
  bareIdle: [],
  e2eIdle: [],
  noisy: 0,
});

/**
 * One `GET /admin/events` stream, open for the whole run as the UI keeps it: tells when an
 * instance's `Created` event arrives (the clock read as the event is parsed from its chunk).
 */
class CreatedWatcher {
  private readonly arrived = new Map<string, number>();
  private readonly waiters = new Map<string, (at: number) => void>();

  private constructor(private readonly stream: EventStream) {
    stream.onEvent(({ event, data }) => {
      if (event !== 'instance' || data.status !== 'Created') return;
      const at = performance.now();
      const instanceId = String(data.instanceId);
      this.arrived.set(instanceId, at);
      this.waiters.get(instanceId)?.(at);
      this.waiters.delete(instanceId);
    });
  }

  static async open(stack: Stack): Promise<CreatedWatcher> {
    const stream = await EventStream.open(stack.baseUrl, stack.tokens.full);
    if (stream.status !== 200) throw new Error(`GET /admin/events: ${stream.status}`);
    return new CreatedWatcher(stream);
  }

  /** performance.now() when the instance's `Created` event arrived. */
  created(instanceId: string): Promise<number> {
    const at = this.arrived.get(instanceId);
    if (at !== undefined) return Promise.resolve(at);
    return new Promise((resolve) => this.waiters.set(instanceId, resolve));
  }

  close(): void {
    this.stream.close();
  }
}

/** One HTTP call as a client makes it (fetch), without the test stack's contract checks, which cost the client time. */
async function call(
  stack: Stack,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = { authorization: `Bearer ${stack.tokens.full}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(stack.baseUrl + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

interface Product {
  stack: Stack;
  watcher: CreatedWatcher;
}

/** POST, then learn `Created` by `mode`; returns the instance id. Times go into `out` when given. */
async function productCreate(product: Product, suffix: string, mode: Mode, out?: Samples): Promise<string> {
  const { stack, watcher } = product;
  const start = performance.now();
  const created = await call(stack, 'POST', '/admin/instances', {
    instanceName: `Bench ${RUN_ID} ${suffix}`,
    databaseName: stack.db(suffix),
  });
  const postMs = performance.now() - start;
  if (created.status !== 201)
    throw new Error(`POST /admin/instances: ${created.status} ${JSON.stringify(created.body)}`);
  const id: string = created.body.id;
  let knownAt: number;
  let knownWall: number;
  if (mode === 'sse') {
    knownAt = await Promise.race([
      watcher.created(id),
      sleep(300_000).then(() => {
        throw new Error(`no Created event for ${id} within 300 s`);
      }),
    ]);
    knownWall = Date.now() - (performance.now() - knownAt);
  } else {
    for (;;) {
      const r = await call(stack, 'GET', `/admin/instances/${id}`);
      if (r.status !== 200) throw new Error(`GET /admin/instances/${id}: ${r.status} ${JSON.stringify(r.body)}`);
      if (r.body.status === 'Created') {
        knownAt = performance.now();
        knownWall = Date.now();
        break;
      }
      if (r.body.status === 'CreateFailed') throw new Error(`instance ${id} CreateFailed: ${r.body.lastError}`);
      if (performance.now() - start > 300_000) throw new Error(`instance ${id} still ${r.body.status} after 300 s`);
      await sleep(POLL_MS);
    }
  }
  if (out) {
    const job = await stack.dataSource.getRepository(JobEntity).findOneByOrFail({ instanceId: id, type: 'create' });
    out.e2e[mode].push(knownAt - start);
    out.post.push(postMs);
    out.pickup.push(job.startedAt!.getTime() - job.createdAt.getTime());
    out.run.push(job.finishedAt!.getTime() - job.startedAt!.getTime());
    out.seen[mode].push(knownWall - job.finishedAt!.getTime());
    out.retries += job.attempts - 1;
  }
  return id;
}

/** Timed `work`, with the share of CPU idle while it ran; `out` gets both. */
async function timedIdle(work: () => Promise<unknown>, idleOut: number[]): Promise<void> {
  const before = cpuTicks();
  await work();
  idleOut.push(idleShare(before));
}

async function startProduct(strategy: Strategy, log: ReturnType<typeof silentLogger>): Promise<Product> {
  // The product's defaults for everything that is not about isolation (the test stack speeds some up).
  const options = {
    worker: false,
    logger: log,
    env: {
      ODS_PG_CREATE_STRATEGY: strategy,
      RECONCILE_INTERVAL_MS: '5000',
      JOB_LOCK_DURATION_MS: '10000',
      STALLED_INTERVAL_MS: '2000',
      GLOBAL_CONCURRENCY: '2',
      WORKER_CONCURRENCY: '2',
      EVENTS_POLL_MS: '5000',
    },
  };
  const stack = new Stack(options);
  stacks.push(stack); // registered before it starts, so a failed start is cleaned up too
  await stack.start(options);
  // The driver as worker/main.ts builds it, so ODS_PG_CREATE_STRATEGY reaches CREATE DATABASE.
  await stack.startWorker({}, createDriver(stack.workerConfig, log));
  return { stack, watcher: await CreatedWatcher.open(stack) };
}

const stacks: Stack[] = [];
const watchers: CreatedWatcher[] = [];

/** Trace mode: each create's spans, by name, with their offsets from the POST's server span. */
async function traceRun(products: Map<Strategy, Product>, receiver: OtlpReceiver, tracing: Tracing): Promise<string> {
  const ids = new Map<Strategy, string[]>();
  for (const strategy of STRATEGIES) ids.set(strategy, []);
  for (let i = 0; i < ITERATIONS && !stopRequest.interrupted; i++) {
    for (const strategy of STRATEGIES) {
      if (CHECKPOINT) await withServer((c) => c.query('CHECKPOINT'));
      await waitForQuiet(QUIET);
      ids.get(strategy)!.push(await productCreate(products.get(strategy)!, `t${i}`, 'sse'));
      progress(`  traced ${i + 1}/${ITERATIONS} ${strategy}`);
    }
  }
  await sleep(1500);
  await tracing.shutdown();
  const lines: string[] = [];
  for (const strategy of STRATEGIES) {
    // span label → durations and offsets (ms from the start of the POST's server span)
    const rows = new Map<string, { start: number[]; dur: number[]; order: number }>();
    let order = 0;
    for (const id of ids.get(strategy)!) {
      // The worker's spans carry the instance id; the POST's server span is the root of their trace.
      const anchor = receiver.spans.find((s) => s.attributes['odsim.instance.id'] === id);
      const trace = anchor ? receiver.spans.filter((s) => s.traceId === anchor.traceId) : [];
      const root = trace.find((s) => s.kind === 2 && s.attributes['http.request.method'] === 'POST');
      if (!trace.length) continue;
      const t0 = root?.startMs ?? Math.min(...trace.map((s) => s.startMs));
      const seen = new Map<string, number>();
      for (const span of [...trace].sort((a, b) => a.startMs - b.startMs)) {
        // BullMQ names its spans after the queue, which carries the deployment id.
        const name = span.name.replace(/-[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}/g, '');
        const n = (seen.get(name) ?? 0) + 1;
        seen.set(name, n);
        const label = n > 1 ? `${name} (${n})` : name;
        const row = rows.get(label) ?? { start: [], dur: [], order: order++ };
        row.start.push(span.startMs - t0);
        row.dur.push(span.endMs - span.startMs);
        rows.set(label, row);
      }
    }
    lines.push('');
    lines.push(
      `${strategy.toUpperCase()}: spans of ${ids.get(strategy)!.length} creates (medians, ms; offset from the POST's arrival)`,
    );
    lines.push('');
    lines.push('| span | n | starts at | duration | p95 duration |');
    lines.push('| --- | ---: | ---: | ---: | ---: |');
    const median = (xs: number[]) => stats(xs).median;
    for (const [label, row] of [...rows].sort((a, b) => median(a[1].start) - median(b[1].start))) {
      lines.push(
        `| ${label.replace(/\|/g, '\\|')} | ${row.dur.length} | ${fmt(median(row.start))} | ${fmt(median(row.dur))} | ${fmt(stats(row.dur).p95)} |`,
      );
    }
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  interruptible();

  const log = silentLogger();
  progress(`template ${EDFI_TEMPLATE}: ensuring it exists (the first build takes a while)`);
  await ensureStandInTemplate(POSTGRES_URL, EDFI_TEMPLATE, ED_FI_SCALE, log);
  const shape = await shapeOf(EDFI_TEMPLATE);
  const facts = await serverFacts();

  let receiver: OtlpReceiver | undefined;
  let tracing: Tracing | null = null;
  if (TRACE) {
    receiver = await OtlpReceiver.start();
    tracing = startTracing(
      loadTracingSettings(
        {
          OTEL_TRACES_EXPORTER: 'otlp',
          OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${receiver.url}/v1/traces`,
          OTEL_BSP_SCHEDULE_DELAY: '500',
        },
        'api',
      ),
      log,
    );
  }

  const products = new Map<Strategy, Product>();
  const bare = new Client({ connectionString: POSTGRES_URL, application_name: 'odsim-bench' });
  bare.on('error', () => undefined);
  const results = new Map<Strategy, Samples>(STRATEGIES.map((s) => [s, newSamples()]));
  const sporadic = newSamples();
  const startedAt = new Date();
  const loadAtStart = machineLine(facts.serverVersion!, startedAt);
  try {
    await bare.connect();
    for (const strategy of STRATEGIES) {
      const product = await startProduct(strategy, log);
      products.set(strategy, product);
      watchers.push(product.watcher);
    }

    progress(`warm-up round (untimed)`);
    for (const strategy of STRATEGIES) {
      await bareCreate(bare, strategy, `${BARE_PREFIX}warmup_${strategy}`);
      for (const mode of MODES) await productCreate(products.get(strategy)!, `warmup${mode}`, mode);
    }

    if (TRACE) {
      const table = await traceRun(products, receiver!, tracing!);
      appendResults(
        `Create overhead, where the time goes (traced): run of ${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC`,
        `${loadAtStart}\n\nTemplate \`${EDFI_TEMPLATE}\` (${shape.tablesAndViews} tables and views, ${facts.templateSize}); tracing on (OpenTelemetry to an OTLP receiver in the benchmark's process), event stream, ${ITERATIONS} creates per strategy. Tracing itself adds time to every span; read the offsets and durations as shares, not as the untraced latency.\n${table}`,
      );
      return;
    }

    for (let i = 0; i < ITERATIONS && !stopRequest.interrupted; i++) {
      // Alternate which strategy and which measurement goes first, so neither always follows the other.
      const order = i % 2 ? [...STRATEGIES].reverse() : [...STRATEGIES];
      for (const strategy of order) {
        if (stopRequest.interrupted) break;
        const out = results.get(strategy)!;
        // Every sample starts from clean shared buffers (an untimed CHECKPOINT) on a quiet machine. Without
        // the checkpoint a FILE_COPY clone, which checkpoints first, would pay for writing out the ~40 MB
        // that the WAL_LOG clone just before it left dirty, and the interleaving would decide the result.
        const settle = async () => {
          if (CHECKPOINT) await bare.query('CHECKPOINT');
          if (!(await waitForQuiet(QUIET))) out.noisy++;
        };
        const steps: (() => Promise<void>)[] = [
          async () => {
            await settle();
            const { value, idle } = await idleDuring(() =>
              bareCreate(bare, strategy, `${BARE_PREFIX}${i}_${strategy}`),
            );
            out.bare.push(value);
            out.bareIdle.push(idle);
          },
          ...MODES.map((mode) => async () => {
            await settle();
            await timedIdle(() => productCreate(products.get(strategy)!, `b${i}${mode}`, mode, out), out.e2eIdle);
          }),
        ];
        // Rotate the three so that each takes each place in turn.
        for (let k = 0; k < i % steps.length; k++) steps.push(steps.shift()!);
        for (const step of steps) await step();
        progress(
          `  ${i + 1}/${ITERATIONS} ${strategy}: bare ${fmt(out.bare.at(-1)!)} ms, poll ${fmt(out.e2e.poll.at(-1)!)} ms, sse ${fmt(out.e2e.sse.at(-1)!)} ms` +
            ` (last: POST ${fmt(out.post.at(-1)!)}, pickup ${out.pickup.at(-1)}, worker ${out.run.at(-1)})`,
        );
      }
    }

    // Sporadic creates: the pools of API and worker have been idle longer than their idle timeout.
    const sporadicStrategy = STRATEGIES.includes('wal_log') ? 'wal_log' : STRATEGIES[0]!;
    for (let i = 0; i < SPORADIC && !stopRequest.interrupted; i++) {
      progress(`  sporadic ${i + 1}/${SPORADIC}: idle ${SPORADIC_IDLE_S} s first`);
      await sleep(SPORADIC_IDLE_S * 1000);
      if (CHECKPOINT) await bare.query('CHECKPOINT');
      if (!(await waitForQuiet(QUIET))) sporadic.noisy++;
      await timedIdle(() => productCreate(products.get(sporadicStrategy)!, `s${i}`, 'sse', sporadic), sporadic.e2eIdle);
      progress(
        `    sse ${fmt(sporadic.e2e.sse.at(-1)!)} ms (POST ${fmt(sporadic.post.at(-1)!)}, pickup ${sporadic.pickup.at(-1)}, worker ${sporadic.run.at(-1)})`,
      );
    }
    if (stopRequest.interrupted) throw new Error('interrupted');

    const lines: string[] = [loadAtStart, ''];
    lines.push(
      `Template \`${EDFI_TEMPLATE}\`: ${shape.tablesAndViews} tables and views, ${shape.relations} relations, ${facts.templateSize}.`,
    );
    lines.push(
      `${facts.version}; shared_buffers=${facts.shared_buffers}, fsync=${facts.fsync}, synchronous_commit=${facts.synchronous_commit}, wal_level=${facts.wal_level}, full_page_writes=${facts.full_page_writes}, max_wal_size=${facts.max_wal_size}.`,
    );
    lines.push(
      `${ITERATIONS} iterations per measurement, interleaved (bare, polled, event stream; the order rotates), after one untimed warm-up round; ${CHECKPOINT ? 'an untimed CHECKPOINT before each sample' : 'no CHECKPOINT between samples'}; poll interval ${POLL_MS} ms; p95 is nearest-rank. API and worker run in the benchmark's process (test/support/stack.ts), at the product's defaults but for isolation.`,
    );
    const pct = (xs: number[]) =>
      xs.some(Number.isNaN)
        ? 'n/a'
        : `${(100 * stats(xs).median).toFixed(0)}% (lowest ${(100 * stats(xs).min).toFixed(0)}%)`;
    lines.push(
      `${cpus().length} CPUs. Each timed sample waited for the CPUs to be ≥${(100 * QUIET.idle).toFixed(0)}% idle (timeout ${QUIET.timeoutS} s); ` +
        STRATEGIES.map((s) => {
          const r = results.get(s)!;
          return `${s.toUpperCase()}: ${r.noisy} of ${3 * ITERATIONS} samples taken while still busy, CPU idle during bare ${pct(r.bareIdle)}, during e2e ${pct(r.e2eIdle)}`;
        }).join('; ') +
        '.',
    );
    lines.push('');
    lines.push(
      '| strategy | measurement | n | min ms | median ms | p95 ms | max ms | median ÷ bare median (target ≤ 1.10) |',
    );
    lines.push('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const strategy of STRATEGIES) {
      const r = results.get(strategy)!;
      const b = stats(r.bare);
      const row = (what: string, s: Stats) =>
        lines.push(
          `| ${strategy.toUpperCase()} | ${what} | ${s.n} | ${fmt(s.min)} | ${fmt(s.median)} | ${fmt(s.p95)} | ${fmt(s.max)} | ${(s.median / b.median).toFixed(3)} |`,
        );
      row('bare `CREATE DATABASE … TEMPLATE`', b);
      row(`end to end, polled every ${POLL_MS} ms`, stats(r.e2e.poll));
      row('end to end, event stream', stats(r.e2e.sse));
    }
    lines.push('');
    lines.push("Where the end-to-end time goes (medians, ms; from the job row's timestamps, so ±1 ms):");
    lines.push('');
    lines.push(
      '| strategy | POST → 201 | job queued → running (pickup) | running → finished (worker) | worker − bare median | finished → known, polled | finished → known, stream | job retries |',
    );
    lines.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const strategy of STRATEGIES) {
      const r = results.get(strategy)!;
      lines.push(
        `| ${strategy.toUpperCase()} | ${fmt(stats(r.post).median)} | ${fmt(stats(r.pickup).median)} | ${fmt(stats(r.run).median)} | ${fmt(stats(r.run).median - stats(r.bare).median)} | ${fmt(stats(r.seen.poll).median)} | ${fmt(stats(r.seen.sse).median)} | ${r.retries} |`,
      );
    }
    if (sporadic.e2e.sse.length) {
      const s = stats(sporadic.e2e.sse);
      lines.push('');
      lines.push(
        `Sporadic creates (${sporadicStrategy.toUpperCase()}, event stream), each after ${SPORADIC_IDLE_S} s without any request: n ${s.n}, median ${fmt(s.median)} ms, max ${fmt(s.max)} ms; POST → 201 median ${fmt(stats(sporadic.post).median)} ms, pickup ${fmt(stats(sporadic.pickup).median)} ms, worker ${fmt(stats(sporadic.run).median)} ms; ${sporadic.noisy} taken while still busy.`,
      );
    }
    appendResults(
      `Create overhead: run of ${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC`,
      lines.join('\n'),
    );
  } finally {
    progress('cleaning up');
    for (const watcher of watchers) watcher.close();
    for (const stack of stacks)
      await stack.stop().catch((err) => progress(`stack clean-up failed: ${(err as Error).message}`));
    await tracing?.shutdown().catch(() => undefined);
    await receiver?.stop().catch(() => undefined);
    await bare.end().catch(() => undefined);
    await dropDatabases(await databasesLike(BARE_PREFIX)).catch((err) =>
      progress(`clean-up failed: ${(err as Error).message}`),
    );
    const left = [
      ...(await databasesLike(BARE_PREFIX)),
      ...(
        await Promise.all(stacks.flatMap((s) => [databasesLike(`t_${s.id}_`), databasesLike(`odsim_t_${s.id}`)]))
      ).flat(),
    ];
    if (left.length) progress(`WARNING: databases left behind: ${left.join(', ')}`);
  }
}

runBenchmark(main);
