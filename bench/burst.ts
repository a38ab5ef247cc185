import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { Client } from 'pg';
import { In } from 'typeorm';
import { JobEntity } from '../shared/database/entities';
import { silentLogger } from '../shared/logger';
import { sleep } from '../shared/retry';
import { quote } from '../worker/engines/postgres/names';
import { ED_FI_SCALE, ensureStandInTemplate } from '../worker/templates/stand-in';
import { databasesLike, dropDatabases, shapeOf, withServer } from '../test/support/ods-server';
import { ApiProcess, WorkerProcess } from '../test/support/processes';
import { EDFI_TEMPLATE, POSTGRES_URL } from '../test/support/settings';
import { Stack } from '../test/support/stack';
import {
  appendResults,
  cpuTicks,
  idleShare,
  interruptible,
  machineLine,
  percentile,
  positiveInt,
  progress,
  quietGate,
  runBenchmark,
  stopRequest,
  waitForQuiet,
} from './support';

/**
 * Burst (issue 13, benchmark 2, and benchmark 9's burst half): COUNT creates posted at once
 * through the API, with the global limit at N (2, then 4), against COUNT bare
 * `CREATE DATABASE … TEMPLATE` copies run N at a time on plain connections; then COUNT deletes
 * posted at once against COUNT bare `DROP DATABASE … WITH (FORCE)` N at a time.
 *
 * The product runs as operators run it: the API as a child process (`node dist/api/main.js`) and
 * two worker processes, each WORKER_CONCURRENCY=N, GLOBAL_CONCURRENCY=N, every other worker
 * setting at the product's default (shared/config.ts), default copy strategy. Time: from just
 * before the first POST to the last instance seen `Created` (`Deleted`) on the API's event stream
 * (GET /admin/events), against the wall time of the bare copies (drops). Per-item latency is from
 * the same start to each item's end. The RSS of the API and of each worker is sampled from
 * /proc/<pid>/status every 50 ms during each product phase.
 *
 * Fairness: same template and N; bare and product alternate which goes first; before every phase
 * an untimed CHECKPOINT and a wait for quiet CPUs. Nothing is dropped before the creates are done
 * (on ext4 without a journal, creating ~2,700 files right after dropping as many is slow: see
 * "Caveats" in docs/benchmarks.md), so the deletes come last, and every database is dropped at
 * the end (also on SIGINT). BENCH_BURST_COUNT (100), BENCH_BURST_LIMITS ("2,4"),
 * BENCH_QUIET_IDLE (0.8), BENCH_QUIET_TIMEOUT_S (300), BENCH_BURST_RECORD (1: append to docs),
 * BENCH_BURST_DELETES (1; 0 measures the creates only).
 */

const COUNT = positiveInt(process.env.BENCH_BURST_COUNT, 100);
const LIMITS = (process.env.BENCH_BURST_LIMITS ?? '2,4').split(',').map((n) => positiveInt(n.trim(), 2));
const QUIET = quietGate({ idle: 0.8, timeoutS: 300 });
const RECORD = !['0', 'false', 'no', 'off'].includes((process.env.BENCH_BURST_RECORD ?? '1').toLowerCase());
/** BENCH_BURST_DELETES=0 measures the creates only. */
const DELETES = !['0', 'false', 'no', 'off'].includes((process.env.BENCH_BURST_DELETES ?? '1').toLowerCase());
const TARGET = 1.15;

const RUN_ID = randomBytes(3).toString('hex');
const BARE_PREFIX = `odsim_bench_${RUN_ID}_`;

/** Wall-clock milliseconds with sub-millisecond resolution (comparable with the job rows' timestamps). */
const now = () => performance.timeOrigin + performance.now();
const fmt = (ms: number) => ms.toFixed(0);
const secs = (ms: number) => (ms / 1000).toFixed(2);

/** The settings the product's workers run with: empty means "not set", so shared/config.ts's default applies. */
const PRODUCT_DEFAULTS = {
  JOB_LOCK_DURATION_MS: '',
  STALLED_INTERVAL_MS: '',
  RECONCILE_INTERVAL_MS: '',
  TRANSIENT_RETRY_ATTEMPTS: '',
  TRANSIENT_RETRY_BASE_MS: '',
  TRANSIENT_RETRY_MAX_MS: '',
  ODS_PG_CREATE_STRATEGY: '',
  EVENTS_POLL_MS: '',
  ADMIN_DATABASE_CONNECT_TIMEOUT_MS: '',
};

/** Requests the API answered 503 (and that were sent again, as a client would), per phase label. */
const unavailable = new Map<string, number>();

/** fetch, sending the request again after a 503 (the API's answer when it waited too long for an admin-database connection). */
async function send(phase: string, url: string, init: RequestInit): Promise<Response> {
  for (let attempt = 1; ; attempt++) {
    const r = await fetch(url, init);
    if (r.status !== 503 || attempt >= 20) return r;
    await r.text();
    unavailable.set(phase, (unavailable.get(phase) ?? 0) + 1);
    await sleep(200);
  }
}

/** kB from a /proc/<pid>/status line, or NaN. */
function statusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

/** The server's checkpoint counters (PostgreSQL ≤ 16: pg_stat_bgwriter). */
async function checkpointStats(): Promise<{ timed: number; requested: number; ms: number }> {
  return withServer(async (c) => {
    const r = await c.query<{ timed: string; requested: string; ms: string }>(
      `SELECT checkpoints_timed::text AS timed, checkpoints_req::text AS requested,
              (checkpoint_write_time + checkpoint_sync_time)::text AS ms FROM pg_stat_bgwriter`,
    );
    const row = r.rows[0]!;
    return { timed: Number(row.timed), requested: Number(row.requested), ms: Number(row.ms) };
  }).catch(() => ({ timed: NaN, requested: NaN, ms: NaN }));
}

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat; NaN if unreadable. */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces), counted from field 3; utime and stime are 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ is 100 on Linux
  } catch {
    return NaN;
  }
}

/** Samples the RSS of some processes every 50 ms; `stop()` gives each one's peak in MiB. */
function sampleRss(pids: Record<string, number>): { stop(): Record<string, number> } {
  const peak: Record<string, number> = Object.fromEntries(Object.keys(pids).map((k) => [k, 0]));
  const take = () => {
    for (const [name, pid] of Object.entries(pids)) peak[name] = Math.max(peak[name]!, statusKb(pid, 'VmRSS') || 0);
  };
  take();
  const timer = setInterval(take, 50);
  return {
    stop() {
      clearInterval(timer);
      take();
      return Object.fromEntries(Object.entries(peak).map(([k, kb]) => [k, kb / 1024]));
    },
  };
}

/** The API's event stream: when each instance was first seen in each status. */
class EventWatch {
  readonly seen = new Map<string, number>();
  private readonly abort = new AbortController();
  private waiters: (() => void)[] = [];

  static async open(baseUrl: string, token: string): Promise<EventWatch> {
    const watch = new EventWatch();
    const response = await fetch(`${baseUrl}/admin/events`, {
      headers: { authorization: `Bearer ${token}` },
      signal: watch.abort.signal,
    });
    if (response.status !== 200 || !response.body) throw new Error(`GET /admin/events: ${response.status}`);
    void watch.read(response.body);
    return watch;
  }

  private async read(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffered = '';
    try {
      for await (const chunk of body) {
        buffered += decoder.decode(chunk, { stream: true });
        const messages = buffered.split('\n\n');
        buffered = messages.pop() ?? '';
        const at = now();
        for (const message of messages) {
          const data = message.split('\n').find((l) => l.startsWith('data: '));
          if (!data) continue;
          const event = JSON.parse(data.slice(6)) as { type: string; instanceId: string; status: string };
          const key = `${event.instanceId}:${event.status}`;
          if (event.type === 'instance' && !this.seen.has(key)) this.seen.set(key, at);
        }
        for (const wake of this.waiters.splice(0)) wake();
      }
    } catch {
      // aborted at close
    }
  }

  /** Resolves with the time each instance was seen in `status`, once all were (or throws at the deadline). */
  async allIn(ids: string[], status: string, timeoutMs = 900_000): Promise<number[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const times = ids.map((id) => this.seen.get(`${id}:${status}`));
      if (times.every((t) => t !== undefined)) return times;
      if (Date.now() > deadline || stopRequest.interrupted)
        throw new Error(`${times.filter((t) => t === undefined).length} instances never seen ${status}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 1000);
      });
    }
  }

  close(): void {
    this.abort.abort();
  }
}

interface Phase {
  label: string;
  wallMs: number;
  /** Per item, from the phase's start to its end (ms). */
  latencies: number[];
  idle: number;
  noisy: boolean;
  /** Checkpoints the server ran during the phase (pg_stat_bgwriter), and their write + sync time (s). */
  checkpoints: { timed: number; requested: number; seconds: number };
  /** Sum of the time the N slots were busy with a copy (drop) / (N × wall): how full the limit was kept. */
  occupancy?: number;
  /** Product only. */
  rssMiB?: Record<string, number>;
  /** Product only: CPU seconds each product process used during the phase. */
  cpu?: Record<string, number>;
  jobs?: JobFacts;
}

interface JobFacts {
  /** Job row created → running, per job (ms). */
  queued: number[];
  /** running → finished, per job (ms). */
  run: number[];
  /** For each job but the last N to finish: its finish → the next start of any job (ms): the hand-off gap. */
  handoff: number[];
  /** Job finished → the event stream showed the end status (ms). */
  seen: number[];
  attemptsOverOne: number;
  /** How many jobs ran at once, at most (from the job rows). */
  maxRunning: number;
  /** Deliveries put back because no concurrency slot was free (`job.slot_wait` in the workers' debug log). */
  slotWaits: number;
}

/** Runs `items` through `work` on `limit` sessions at once; returns each item's end, relative to the start. */
async function bareRun(
  sessions: Client[],
  sql: (name: string) => string,
  names: string[],
): Promise<{ wallMs: number; latencies: number[]; busyMs: number }> {
  const queue = [...names];
  const latencies: number[] = [];
  let busyMs = 0;
  const start = now();
  await Promise.all(
    sessions.map(async (c) => {
      for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
        const began = now();
        await c.query(sql(name));
        const ended = now();
        busyMs += ended - began;
        latencies.push(ended - start);
      }
    }),
  );
  return { wallMs: now() - start, latencies, busyMs };
}

function jobFacts(rows: JobEntity[], seenAt: Map<string, number>, slotWaits: number): JobFacts {
  const ms = (d: Date | null) => (d ? d.getTime() : NaN);
  const starts = rows.map((r) => ms(r.startedAt)).sort((a, b) => a - b);
  const handoff: number[] = [];
  for (const r of rows) {
    const end = ms(r.finishedAt);
    const next = starts.find((s) => s >= end);
    if (next !== undefined) handoff.push(next - end);
  }
  let maxRunning = 0;
  const edges = rows.flatMap((r) => [
    { at: ms(r.startedAt), d: 1 },
    { at: ms(r.finishedAt), d: -1 },
  ]);
  edges.sort((a, b) => a.at - b.at || a.d - b.d);
  let running = 0;
  for (const e of edges) maxRunning = Math.max(maxRunning, (running += e.d));
  return {
    queued: rows.map((r) => ms(r.startedAt) - ms(r.createdAt)),
    run: rows.map((r) => ms(r.finishedAt) - ms(r.startedAt)),
    handoff,
    seen: rows.map((r) => (seenAt.get(r.instanceId) ?? NaN) - ms(r.finishedAt)),
    attemptsOverOne: rows.reduce((n, r) => n + r.attempts - 1, 0),
    maxRunning,
    slotWaits,
  };
}

const dist = (xs: number[]) =>
  `${fmt(percentile(xs, 0))} / ${fmt(percentile(xs, 50))} / ${fmt(percentile(xs, 95))} / ${fmt(percentile(xs, 100))}`;

async function main(): Promise<void> {
  interruptible();

  const log = silentLogger();
  progress(`template ${EDFI_TEMPLATE}: ensuring it exists (the first build takes a while)`);
  await ensureStandInTemplate(POSTGRES_URL, EDFI_TEMPLATE, ED_FI_SCALE, log);
  const shape = await shapeOf(EDFI_TEMPLATE);
  const facts = await withServer(async (c) => {
    const r = await c.query<{ v: string; size: string; mb: string }>(
      `SELECT current_setting('server_version') AS v, pg_size_pretty(pg_database_size($1)) AS size,
              (pg_database_size($1) / 1048576)::text AS mb`,
      [EDFI_TEMPLATE],
    );
    return r.rows[0]!;
  });
  const machine = machineLine(facts.v);

  const stack = new Stack({ worker: false, logger: log, env: PRODUCT_DEFAULTS });
  let api: ApiProcess | undefined;
  let workers: WorkerProcess[] = [];
  let events: EventWatch | undefined;
  const sessions: Client[] = [];
  const phases: Phase[] = [];
  const stopWorkers = async () => {
    await Promise.all(workers.map((w) => w.kill('SIGTERM')));
    workers = [];
  };
  try {
    await stack.start({ worker: false });
    api = await ApiProcess.start(stack.env);
    events = await EventWatch.open(api.baseUrl, stack.tokens.full);
    const auth = { authorization: `Bearer ${stack.tokens.full}`, 'content-type': 'application/json' };
    const instancesOf = new Map<number, string[]>();
    const bareOf = new Map<number, string[]>();

    const settle = async () => {
      await withServer((c) => c.query('CHECKPOINT'));
      return !(await waitForQuiet(QUIET));
    };

    const measure = async (
      label: string,
      work: () => Promise<Omit<Phase, 'label' | 'idle' | 'noisy' | 'checkpoints'>>,
    ): Promise<void> => {
      if (stopRequest.interrupted) throw new Error('interrupted');
      const noisy = await settle();
      progress(`  ${label} …`);
      const before = cpuTicks();
      const checkpointsBefore = await checkpointStats();
      const result = await work();
      const idle = idleShare(before);
      const checkpointsAfter = await checkpointStats();
      const checkpoints = {
        timed: checkpointsAfter.timed - checkpointsBefore.timed,
        requested: checkpointsAfter.requested - checkpointsBefore.requested,
        seconds: (checkpointsAfter.ms - checkpointsBefore.ms) / 1000,
      };
      const phase: Phase = { label, ...result, idle, noisy, checkpoints };
      phases.push(phase);
      progress(
        `  ${label}: ${secs(phase.wallMs)} s, per item ${dist(phase.latencies)} ms (min/median/p95/max), CPU idle ${(100 * phase.idle).toFixed(0)}%` +
          (phase.rssMiB
            ? `, peak RSS ${Object.entries(phase.rssMiB)
                .map(([k, v]) => `${k} ${v.toFixed(0)} MiB`)
                .join(', ')}`
            : ''),
      );
    };

    const productPhase = async (
      n: number,
      kind: 'create' | 'delete',
    ): Promise<Omit<Phase, 'label' | 'idle' | 'noisy' | 'checkpoints'>> => {
      const rss = sampleRss({
        api: api!.child.pid!,
        ...Object.fromEntries(workers.map((w, i) => [`worker ${i + 1}`, w.child.pid!])),
      });
      const slotWaitsBefore = slotWaits();
      const pids: Record<string, number> = {
        api: api!.child.pid!,
        ...Object.fromEntries(workers.map((w, i) => [`worker ${i + 1}`, w.child.pid!])),
      };
      const cpuBefore = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuSeconds(pid)]));
      const start = now();
      let ids: string[];
      if (kind === 'create') {
        const posted = await Promise.all(
          Array.from({ length: COUNT }, async (_, i) => {
            const r = await send(`N=${n} product creates`, `${api!.baseUrl}/admin/instances`, {
              method: 'POST',
              headers: auth,
              body: JSON.stringify({ instanceName: `Burst ${RUN_ID} ${n} ${i}`, databaseName: stack.db(`n${n}_${i}`) }),
            });
            const body = (await r.json()) as { id: string };
            if (r.status !== 201) throw new Error(`POST /admin/instances: ${r.status} ${JSON.stringify(body)}`);
            return body.id;
          }),
        );
        ids = posted;
        instancesOf.set(n, ids);
      } else {
        ids = instancesOf.get(n)!;
        await Promise.all(
          ids.map(async (id) => {
            const r = await send(`N=${n} product deletes`, `${api!.baseUrl}/admin/instances/${id}`, {
              method: 'DELETE',
              headers: auth,
            });
            const text = await r.text();
            if (r.status >= 300) throw new Error(`DELETE /admin/instances/${id}: ${r.status} ${text}`);
          }),
        );
      }
      const endStatus = kind === 'create' ? 'Created' : 'Deleted';
      const seen = await events!.allIn(ids, endStatus);
      const wallMs = Math.max(...seen) - start;
      const rssMiB = rss.stop();
      const cpu = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuSeconds(pid) - cpuBefore[k]!]));
      const rows = await stack.dataSource.getRepository(JobEntity).find({ where: { instanceId: In(ids), type: kind } });
      const seenAt = new Map(ids.map((id, i) => [id, seen[i]!]));
      const jobs = jobFacts(rows, seenAt, slotWaits() - slotWaitsBefore);
      const busy = jobs.run.reduce((a, b) => a + b, 0);
      return { wallMs, latencies: seen.map((t) => t - start), rssMiB, cpu, jobs, occupancy: busy / (n * wallMs) };
    };

    const barePhase = async (
      n: number,
      kind: 'create' | 'delete',
    ): Promise<Omit<Phase, 'label' | 'idle' | 'noisy' | 'checkpoints'>> => {
      const names =
        kind === 'create' ? Array.from({ length: COUNT }, (_, i) => `${BARE_PREFIX}n${n}_${i}`) : bareOf.get(n)!;
      if (kind === 'create') bareOf.set(n, names);
      const sql =
        kind === 'create'
          ? (name: string) => `CREATE DATABASE ${quote(name)} TEMPLATE ${quote(EDFI_TEMPLATE)}`
          : (name: string) => `DROP DATABASE ${quote(name)} WITH (FORCE)`;
      const r = await bareRun(sessions.slice(0, n), sql, names);
      return { wallMs: r.wallMs, latencies: r.latencies, occupancy: r.busyMs / (n * r.wallMs) };
    };

    const maxN = Math.max(...LIMITS);
    for (let i = 0; i < maxN; i++) {
      const c = new Client({ connectionString: POSTGRES_URL, application_name: 'odsim-bench-burst' });
      c.on('error', () => undefined);
      await c.connect();
      sessions.push(c);
    }

    // Counted from the workers' own log (LOG_LEVEL=debug: the only debug line a worker writes in a burst).
    const slotWaits = () =>
      workers.reduce((sum, w) => sum + w.lines.filter((l) => l.includes('"event":"job.slot_wait"')).length, 0);
    const startWorkers = async (n: number) => {
      await stopWorkers();
      const env = { ...stack.env, GLOBAL_CONCURRENCY: String(n), WORKER_CONCURRENCY: String(n), LOG_LEVEL: 'debug' };
      workers = [new WorkerProcess(env), new WorkerProcess(env)];
      await Promise.all(workers.map((w) => w.waitForEvent('worker.started')));
    };

    // Creates first, for every N (bare and product alternating which goes first); the deletes after all creates.
    for (const [k, n] of LIMITS.entries()) {
      await startWorkers(n);
      const steps = [
        () => measure(`N=${n} bare creates`, () => barePhase(n, 'create')),
        () => measure(`N=${n} product creates`, () => productPhase(n, 'create')),
      ];
      if (k % 2) steps.reverse();
      for (const step of steps) await step();
    }
    for (const [k, n] of DELETES ? [...LIMITS.entries()].reverse() : []) {
      await startWorkers(n);
      const steps = [
        () => measure(`N=${n} product deletes`, () => productPhase(n, 'delete')),
        () => measure(`N=${n} bare drops`, () => barePhase(n, 'delete')),
      ];
      if (k % 2) steps.reverse();
      for (const step of steps) await step();
    }
    const hwm = Object.fromEntries([
      ['api', statusKb(api.child.pid!, 'VmHWM') / 1024],
      ...workers.map((w, i) => [`worker ${i + 1}`, statusKb(w.child.pid!, 'VmHWM') / 1024]),
    ]) as Record<string, number>;

    // The report.
    const byLabel = (label: string) => phases.find((p) => p.label === label)!;
    const lines: string[] = [];
    lines.push(machine);
    lines.push('');
    lines.push(
      `Template \`${EDFI_TEMPLATE}\`: ${shape.tablesAndViews} tables and views, ${shape.relations} relations, ${facts.size}; ` +
        `default copy strategy (WAL_LOG on PostgreSQL 15+). ${COUNT} items per phase. Product: API child process + 2 worker ` +
        `processes, each WORKER_CONCURRENCY=N, GLOBAL_CONCURRENCY=N, LOG_LEVEL=debug (to count slot waits), other settings at their defaults. Bare: N sessions. ` +
        `An untimed CHECKPOINT and a wait for ≥${(100 * QUIET.idle).toFixed(0)}% idle CPUs before each phase; ` +
        `${phases.filter((p) => p.noisy).length} of ${phases.length} phases measured on a machine that never got quiet.`,
    );
    lines.push('');
    lines.push(
      '| N | what | wall s | product ÷ bare | target | per item ms from the burst start: min / median / p95 / max | slots busy | CPU idle | checkpoints (requested + timed), their s |',
    );
    lines.push('| ---: | --- | ---: | ---: | --- | --- | ---: | ---: | ---: |');
    for (const n of LIMITS) {
      for (const [kind, bareLabel, productLabel, target] of [
        ['creates', `N=${n} bare creates`, `N=${n} product creates`, `≤ ${TARGET}×`],
        ...(DELETES ? [['deletes', `N=${n} bare drops`, `N=${n} product deletes`, '(none)'] as const] : []),
      ] as const) {
        const b = byLabel(bareLabel);
        const p = byLabel(productLabel);
        const ratio = p.wallMs / b.wallMs;
        const verdict = kind === 'creates' ? (ratio <= TARGET ? ' (met)' : ' (not met)') : '';
        for (const [ph, isProduct] of [
          [b, false],
          [p, true],
        ] as const)
          lines.push(
            `| ${n} | ${ph.label.replace(`N=${n} `, '')} | ${secs(ph.wallMs)} | ${isProduct ? `${ratio.toFixed(2)}×` : ''} | ${isProduct ? target + verdict : ''} | ${dist(ph.latencies)} | ${ph.occupancy === undefined ? '' : `${(100 * ph.occupancy).toFixed(0)}%`} | ${(100 * ph.idle).toFixed(0)}% | ${ph.checkpoints.requested} + ${ph.checkpoints.timed}, ${ph.checkpoints.seconds.toFixed(1)} |`,
          );
      }
    }
    lines.push('');
    lines.push(
      "Where the product phases' time goes (from the job rows, ms, min / median / p95 / max): queued = job row created → " +
        "running; run = running → finished (the worker's whole operation); hand-off = a job's finish → the next start of " +
        'any job (only while jobs were left); seen = finished → the event stream showed it; slot waits = deliveries ' +
        'a worker took but put back for 0.5–1.5 s because all N concurrency slots were held (`job.slot_wait`).',
    );
    lines.push('');
    lines.push('| N | phase | queued | run | hand-off | seen | most running at once | extra attempts | slot waits |');
    lines.push('| ---: | --- | --- | --- | --- | --- | ---: | ---: | ---: |');
    for (const p of phases.filter((ph) => ph.jobs)) {
      const j = p.jobs!;
      lines.push(
        `| ${p.label.match(/N=(\d+)/)![1]} | ${p.label.replace(/N=\d+ /, '')} | ${dist(j.queued)} | ${dist(j.run)} | ${dist(j.handoff)} | ${dist(j.seen)} | ${j.maxRunning} | ${j.attemptsOverOne} | ${j.slotWaits} |`,
      );
    }
    lines.push('');
    lines.push(
      `Requests the API answered 503 (admin database "unreachable": no pooled connection within ADMIN_DATABASE_CONNECT_TIMEOUT_MS) and the benchmark sent again after 200 ms: ${phases
        .filter((p) => p.jobs)
        .map((p) => `${p.label} ${unavailable.get(p.label) ?? 0}`)
        .join(', ')}.`,
    );
    lines.push('');
    lines.push('Memory (benchmark 9, burst half): peak VmRSS sampled every 50 ms during each product phase, MiB.');
    lines.push('');
    const names = ['api', 'worker 1', 'worker 2'];
    lines.push(`| phase | ${names.join(' | ')} |`);
    lines.push(`| --- | ${names.map(() => '---:').join(' | ')} |`);
    for (const p of phases.filter((ph) => ph.rssMiB))
      lines.push(`| ${p.label} | ${names.map((k) => p.rssMiB![k]?.toFixed(0) ?? '').join(' | ')} |`);
    lines.push(
      `| VmHWM at the end (API over the whole run; the workers of the last N since their start) | ${names.map((k) => hwm[k]?.toFixed(0) ?? '').join(' | ')} |`,
    );
    lines.push('');
    lines.push(
      "CPU seconds the product's own processes used during each product phase (user + system, /proc/<pid>/stat), " +
        'on a machine of 2 CPUs where the copies themselves need the CPUs too:',
    );
    lines.push('');
    lines.push(`| phase | ${names.join(' | ')} | total | wall s |`);
    lines.push(`| --- | ${names.map(() => '---:').join(' | ')} | ---: | ---: |`);
    for (const p of phases.filter((ph) => ph.cpu))
      lines.push(
        `| ${p.label} | ${names.map((k) => p.cpu![k]?.toFixed(1) ?? '').join(' | ')} | ${Object.values(p.cpu!)
          .reduce((a, b) => a + b, 0)
          .toFixed(1)} | ${secs(p.wallMs)} |`,
      );
    const markdown = lines.join('\n');
    if (RECORD) appendResults(`Burst: run of ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`, markdown);
    else process.stdout.write(`${markdown}\n`);
  } finally {
    progress('cleaning up');
    events?.close();
    await stopWorkers().catch(() => undefined);
    api?.kill('SIGTERM');
    if (api) await api.exited;
    for (const c of sessions) await c.end().catch(() => undefined);
    await stack.stop().catch((err) => progress(`stack clean-up failed: ${(err as Error).message}`));
    await dropDatabases(await databasesLike(BARE_PREFIX)).catch((err) =>
      progress(`clean-up failed: ${(err as Error).message}`),
    );
    const left = [
      ...(await databasesLike(BARE_PREFIX)),
      ...(await databasesLike(`t_${stack.id}_`)),
      ...(await databasesLike(`odsim_t_${stack.id}`)),
    ];
    if (left.length) progress(`WARNING: databases left behind: ${left.join(', ')}`);
  }
}

runBenchmark(main);
