import 'reflect-metadata';
import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import autocannon from 'autocannon';
import IORedis from 'ioredis';
import { ClientStore } from '../api/auth/clients';
import { SCOPES } from '../api/auth/scopes';
import { loadApiConfig } from '../shared/config';
import { createAdminDataSource, prepareAdminDatabase } from '../shared/database/data-source';
import { InventoryDatabaseEntity, InventoryRunEntity } from '../shared/database/entities';
import { silentLogger } from '../shared/logger';
import { dropDatabases } from '../test/support/ods-server';
import { freePort } from '../test/support/processes';
import { EDFI_TEMPLATE, REDIS_URL, urlFor } from '../test/support/settings';
import { waitFor } from '../test/support/wait';
import { appendResults, cpuTicks, machineLine, positiveInt, progress, runBenchmark } from './support';

/**
 * Issue 13, benchmarks 3 (status polling) and 4 (create acceptance), and the API's peak RSS.
 *
 * Two servers, each its own process started with the same environment basics (NODE_ENV,
 * LOG_LEVEL, node flags): the real API (`node dist/api/main.js`) on an isolated admin database
 * and queue prefix, no worker anywhere (so every create stays queued), and a bare Express 5
 * process (bench/bare-server.ts). autocannon, in this process, drives BENCH_CONNECTIONS (50)
 * keep-alive connections at one of them for BENCH_DURATION_S (10) seconds after BENCH_WARMUP_S
 * (3) untimed ones. Measurements alternate bare / product in each of BENCH_ROUNDS (2) rounds:
 * bare GET, GET /admin/jobs/{id}, bare GET, GET /admin/instances/{id}, bare POST,
 * POST /admin/instances (a unique instanceName and databaseName each). POSTs use
 * BENCH_POST_CONNECTIONS (10, the admin pool's size: more only queue inside the API).
 * MAX_UNFINISHED_JOBS_PER_CLIENT is raised to 100000 so the quota never answers 429. A finished
 * inventory run with the polled instance's facts is seeded (since 2026-11-26 afternoon), so the
 * instance poll reads them as it does where a worker takes inventories (by default every minute).
 * CPU idle share (/proc/stat) is taken over each measurement; the API's VmRSS is sampled every
 * 100 ms and its VmHWM read at the end. BENCH_API_PROFILE_DIR: run the API with --cpu-prof
 * into that folder (development runs only: a recorded run gives both servers the same flags).
 * Everything made is removed at the end: the admin database and the Redis keys of the prefix.
 */
const DURATION_S = positiveInt(process.env.BENCH_DURATION_S, 10);
const WARMUP_S = positiveInt(process.env.BENCH_WARMUP_S, 3);
const ROUNDS = positiveInt(process.env.BENCH_ROUNDS, 2);
const CONNECTIONS = positiveInt(process.env.BENCH_CONNECTIONS, 50);
const POST_CONNECTIONS = positiveInt(process.env.BENCH_POST_CONNECTIONS, 10);
const LABEL = process.env.BENCH_LABEL ?? '';
const PROFILE_DIR = process.env.BENCH_API_PROFILE_DIR;
/** BENCH_ONLY=jobs,POST: only the measurements whose name holds one of the words (development runs). */
const ONLY = process.env.BENCH_ONLY?.split(',').map((w) => w.trim());

const ROOT = path.resolve(__dirname, '../..');
/** What both servers run with; only PORT and the API's own settings differ. */
const COMMON_ENV = { NODE_ENV: 'production', LOG_LEVEL: 'info' };
const NODE_FLAGS: string[] = [];

/** CPU time (user + system) of a process, in ms; NaN when it cannot be read. */
function processCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The fields after the command's closing parenthesis; utime and stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return NaN;
  }
}
/** USER_HZ: 100 on every Linux this runs on. */
const CLOCK_TICKS = 100;

class Server {
  readonly exited: Promise<void>;
  private constructor(
    readonly child: ChildProcess,
    readonly baseUrl: string,
  ) {
    this.exited = new Promise((resolve) => child.on('exit', () => resolve()));
  }

  static async start(script: string, env: Record<string, string>, readyPath: string, flags: string[] = []) {
    const port = await freePort();
    const child = spawn(process.execPath, [...NODE_FLAGS, ...flags, path.join(ROOT, script)], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', ...COMMON_ENV, ...env, PORT: String(port) },
      // Logs go nowhere, as cheaply as to a log shipper's pipe; stderr is kept for a failed start.
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
    const server = new Server(child, `http://127.0.0.1:${port}`);
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`${script} exited: ${stderr}`);
        return (await fetch(server.baseUrl + readyPath).catch(() => undefined))?.ok;
      },
      `${script} to listen`,
      60_000,
      50,
    );
    return server;
  }

  /** CPU time (user + system) this process has used, in ms (/proc/<pid>/stat). */
  cpuMs(): number {
    return processCpuMs(this.child.pid!);
  }

  /** kB of /proc/<pid>/status's field (VmRSS, VmHWM); NaN where there is none. */
  memoryKb(field: 'VmRSS' | 'VmHWM'): number {
    try {
      const status = readFileSync(`/proc/${this.child.pid}/status`, 'utf8');
      return Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]);
    } catch {
      return NaN;
    }
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    const killed = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(killed);
  }
}

interface Measurement {
  round: number;
  name: string;
  bare: boolean;
  connections: number;
  rps: number;
  total: number;
  p50: number;
  p99: number;
  max: number;
  non2xx: number;
  created: number;
  errors: number;
  idle: number;
  /** CPU time the server process used per request, µs. */
  serverCpuUs: number;
  /** CPU time the admin database's PostgreSQL backends used per request, µs (product only). */
  dbCpuUs: number;
  rssPeakMb: number;
  bytesPerResponse: number;
}

type Request = autocannon.Request;

async function load(url: string, connections: number, seconds: number, requests: Request[]) {
  return autocannon({ url, connections, duration: seconds, requests });
}

async function measure(
  round: number,
  name: string,
  bare: boolean,
  server: Server,
  api: Server,
  connections: number,
  requests: () => Request[],
  backends: () => Promise<number[]>,
): Promise<Measurement> {
  await load(server.baseUrl, connections, WARMUP_S, requests());
  let rssPeak = api.memoryKb('VmRSS');
  const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, api.memoryKb('VmRSS'))), 100);
  const pids = bare ? [] : await backends();
  const dbCpu = () => pids.reduce((sum, pid) => sum + (processCpuMs(pid) || 0), 0);
  const before = cpuTicks();
  const [serverBefore, dbBefore] = [server.cpuMs(), dbCpu()];
  const result = await load(server.baseUrl, connections, DURATION_S, requests());
  const [serverAfter, dbAfter] = [server.cpuMs(), dbCpu()];
  const after = cpuTicks();
  clearInterval(sampler);
  const statuses = result.statusCodeStats as Record<string, { count: number }> | undefined;
  const m: Measurement = {
    round,
    name,
    bare,
    connections,
    rps: result.requests.total / result.duration,
    total: result.requests.total,
    p50: result.latency.p50,
    p99: result.latency.p99,
    max: result.latency.max,
    non2xx: result.non2xx,
    created: statuses?.['201']?.count ?? 0,
    errors: result.errors + result.timeouts,
    idle: before && after ? (after.idle - before.idle) / (after.total - before.total) : NaN,
    serverCpuUs: ((serverAfter - serverBefore) * 1000) / result.requests.total,
    dbCpuUs: bare ? NaN : ((dbAfter - dbBefore) * 1000) / result.requests.total,
    rssPeakMb: rssPeak / 1024,
    bytesPerResponse: result.requests.total ? result.throughput.total / result.requests.total : NaN,
  };
  progress(
    `  round ${round} ${name}: ${m.rps.toFixed(0)} req/s, p50 ${m.p50} ms, p99 ${m.p99} ms, non-2xx ${m.non2xx}, ` +
      `201s ${m.created}, errors ${m.errors}, CPU idle ${(m.idle * 100).toFixed(0)}%, ` +
      `server CPU ${m.serverCpuUs.toFixed(0)} µs/req, PostgreSQL CPU ${m.dbCpuUs.toFixed(0)} µs/req, API RSS ≤ ${m.rssPeakMb.toFixed(0)} MB` +
      (statuses
        ? `, statuses ${JSON.stringify(Object.fromEntries(Object.entries(statuses).map(([k, v]) => [k, v.count])))}`
        : ''),
  );
  return m;
}

/** Deletes every Redis key under `prefix` (SCAN, never KEYS or FLUSH*: the Redis is shared). */
async function removeRedisKeys(prefix: string): Promise<number> {
  const redis = new IORedis(REDIS_URL, { maxRetriesPerRequest: 3 });
  try {
    let removed = 0;
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) removed += await redis.unlink(...keys);
    } while (cursor !== '0');
    return removed;
  } finally {
    redis.disconnect();
  }
}

async function main(): Promise<void> {
  const id = randomBytes(4).toString('hex');
  const adminDatabase = `odsim_bench_http_${id}`;
  const prefix = `odsimb_${id}`;
  const apiEnv: Record<string, string> = {
    ADMIN_DATABASE_URL: urlFor(adminDatabase),
    REDIS_URL,
    QUEUE_PREFIX: prefix,
    TOKEN_SIGNING_KEY: randomBytes(32).toString('hex'),
    BOOTSTRAP_CLIENT: 'false',
    // The quota would answer 429 after 50 queued creates: raised out of the way, as the test stacks do.
    MAX_UNFINISHED_JOBS_PER_CLIENT: '100000',
    ODS_TEMPLATE_DATABASE: EDFI_TEMPLATE,
  };
  const profileFlags = PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : [];
  if (PROFILE_DIR) mkdirSync(PROFILE_DIR, { recursive: true });
  const dataSource = createAdminDataSource(loadApiConfig({ ...COMMON_ENV, ...apiEnv }).adminDatabase);
  let api: Server | undefined;
  let bare: Server | undefined;
  try {
    progress(`starting the API (admin database ${adminDatabase}, queue prefix ${prefix}) and the bare server`);
    api = await Server.start('dist/api/main.js', apiEnv, '/health/live', profileFlags);
    bare = await Server.start('dist/bench/bare-server.js', {}, '/bare/job');
    await prepareAdminDatabase(dataSource, loadApiConfig({ ...COMMON_ENV, ...apiEnv }).adminDatabase, silentLogger());
    const versions = await dataSource.query<{ server_version: string }[]>('SHOW server_version');
    const serverVersion = versions[0]!.server_version;
    const machine = machineLine(serverVersion);
    progress(machine);

    // One client, its token, and one instance whose create job stays queued (no worker runs).
    const client = await new ClientStore(dataSource).create('bench-http', SCOPES.fullAccess);
    const tokenResponse = await fetch(`${api.baseUrl}/connect/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', ...client }),
    });
    if (tokenResponse.status !== 200) throw new Error(`token request failed: ${tokenResponse.status}`);
    const token = ((await tokenResponse.json()) as { access_token: string }).access_token;
    const auth = { authorization: `Bearer ${token}` };
    const json = { 'content-type': 'application/json' };
    const seeded = await fetch(`${api.baseUrl}/admin/instances`, {
      method: 'POST',
      headers: { ...auth, ...json },
      body: JSON.stringify({ instanceName: `Bench ${id} polled`, databaseName: `bh_${id}_polled` }),
    });
    if (seeded.status !== 201) throw new Error(`create failed: ${seeded.status} ${await seeded.text()}`);
    const instance = (await seeded.json()) as { id: string; job: { id: string } };
    // An inventory as a worker leaves it (INVENTORY_INTERVAL_MS is 60 s by default): a finished
    // run and its facts of the polled instance's database, so the instance poll reads them as in
    // a deployment.
    const runId = randomUUID();
    const ranAt = new Date();
    await dataSource.getRepository(InventoryRunEntity).insert({
      id: runId,
      startedAt: ranAt,
      finishedAt: ranAt,
      workerId: 'bench',
      databaseCount: 1,
      error: null,
    });
    await dataSource.getRepository(InventoryDatabaseEntity).insert({
      databaseName: `bh_${id}_polled`,
      observedAt: ranAt,
      sizeBytes: 40 * 1024 * 1024,
      state: 'online',
      connections: 0,
      allowsConnections: true,
      markerInstanceId: instance.id,
      odsVersion: null,
      standardVersion: null,
    });
    const jobPath = `/admin/jobs/${instance.job.id}`;
    const instancePath = `/admin/instances/${instance.id}`;
    const sizes = await Promise.all(
      [jobPath, instancePath].map(
        async (p) => (await (await fetch(api!.baseUrl + p, { headers: auth })).text()).length,
      ),
    );
    const bareSize = (await (await fetch(`${bare.baseUrl}/bare/job`)).text()).length;

    let serial = 0;
    const createBody = () => {
      serial++;
      return JSON.stringify({ instanceName: `Bench ${id} ${serial}`, databaseName: `bh_${id}_${serial}` });
    };
    const get =
      (p: string, headers: Record<string, string> = {}) =>
      () => [{ method: 'GET' as const, path: p, headers }];
    const post = (p: string, headers: Record<string, string>) => () => [
      {
        method: 'POST' as const,
        path: p,
        headers,
        setupRequest: (req: Request) => ({ ...req, body: createBody() }),
      },
    ];

    // The API's pool connections (its event hub's LISTEN connection idles): their CPU is the database's share.
    const backends = async () =>
      (
        await dataSource.query<{ pid: number }[]>(
          `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`,
        )
      ).map((r) => r.pid);
    const cases = [
      { name: 'GET /admin/jobs/{id}', connections: CONNECTIONS, bare: get('/bare/job'), product: get(jobPath, auth) },
      {
        name: 'GET /admin/instances/{id}',
        connections: CONNECTIONS,
        bare: get('/bare/job'),
        product: get(instancePath, auth),
      },
      {
        name: 'POST /admin/instances',
        connections: POST_CONNECTIONS,
        bare: post('/bare/instances', json),
        product: post('/admin/instances', { ...auth, ...json }),
      },
    ].filter((c) => !ONLY || ONLY.some((word) => c.name.includes(word)));
    const results: Measurement[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      progress(`round ${round} of ${ROUNDS}`);
      for (const c of cases) {
        const bareName = c.name.startsWith('GET') ? 'bare GET' : 'bare POST';
        results.push(await measure(round, bareName, true, bare, api, c.connections, c.bare, backends));
        results.push(await measure(round, c.name, false, api, api, c.connections, c.product, backends));
      }
    }
    const hwmMb = api.memoryKb('VmHWM') / 1024;
    const counts = await dataSource.query<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM jobs WHERE status = 'queued'`,
    );
    const queued = counts[0]!.n;

    // Each product measurement against the bare one just before it in the same round.
    const f1 = (n: number) => n.toFixed(1);
    const rows = results.map((m, i) => {
      const baseline = m.bare ? undefined : results[i - 1];
      const ratio = baseline ? (m.rps / baseline.rps).toFixed(2) : '';
      return `| ${m.round} | ${m.name} | ${m.connections} | ${m.total} | ${m.rps.toFixed(0)} | ${ratio} | ${f1(m.p50)} | ${f1(m.p99)} | ${f1(m.max)} | ${m.non2xx} | ${m.name.startsWith('POST') ? m.created : ''} | ${m.errors} | ${(m.idle * 100).toFixed(0)} | ${m.serverCpuUs.toFixed(0)} | ${m.bare ? '' : m.dbCpuUs.toFixed(0)} | ${m.rssPeakMb.toFixed(0)} |`;
    });
    const summary = cases.map(({ name }) => {
      const pairs = results.flatMap((m, i) => (m.name === name ? [[results[i - 1]!, m] as const] : []));
      const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
      const rps = mean(pairs.map(([, m]) => m.rps));
      const bareRps = mean(pairs.map(([b]) => b.rps));
      const p99 = Math.max(...pairs.map(([, m]) => m.p99));
      const ratio = rps / bareRps;
      const target = name.startsWith('GET')
        ? `${ratio >= 0.5 ? 'met' : 'not met'} (≥ 0.5×), p99 ${p99 < 25 ? 'met' : 'not met'} (< 25 ms)`
        : 'no target (issue 13 asks for the figure)';
      return `| ${name} | ${rps.toFixed(0)} | ${bareRps.toFixed(0)} | ${ratio.toFixed(2)} | ${f1(p99)} | ${target} |`;
    });

    const markdown = [
      machine,
      '',
      `Settings: both servers NODE_ENV=${COMMON_ENV.NODE_ENV}, LOG_LEVEL=${COMMON_ENV.LOG_LEVEL}, node flags: ${
        [...NODE_FLAGS, ...profileFlags].join(' ') || 'none'
      }${PROFILE_DIR ? ' (API only: a profiling run)' : ''}; logs to /dev/null. ${DURATION_S} s per measurement after ${WARMUP_S} s of untimed warm-up; ` +
        `GETs ${CONNECTIONS} connections, POSTs ${POST_CONNECTIONS}; ${ROUNDS} rounds, interleaved. ` +
        `Response bodies: job ${sizes[0]} bytes, instance ${sizes[1]} bytes, bare ${bareSize} bytes. ` +
        `API: MAX_UNFINISHED_JOBS_PER_CLIENT=100000, admin pool 10 (default), no worker.${LABEL ? ` Label: ${LABEL}.` : ''}`,
      '',
      '| round | measurement | connections | requests | req/s | × bare | p50 ms | p99 ms | max ms | non-2xx | 201s | errors | CPU idle % | server CPU µs/req | PostgreSQL CPU µs/req | API RSS peak MB |',
      '| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...rows,
      '',
      '| measurement | req/s (mean of rounds) | bare req/s | × bare | worst p99 ms | target |',
      '| --- | ---: | ---: | ---: | ---: | --- |',
      ...summary,
      '',
      `API peak RSS over the whole run (VmHWM): ${hwmMb.toFixed(0)} MB. Jobs left queued (no worker): ${queued}.`,
    ].join('\n');
    appendResults(
      `Run of ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC${LABEL ? ` (${LABEL})` : ''}`,
      markdown,
    );
  } finally {
    await Promise.all([api?.stop(), bare?.stop()]);
    if (dataSource.isInitialized) await dataSource.destroy();
    await dropDatabases([adminDatabase]);
    progress(`removed the admin database and ${await removeRedisKeys(prefix)} Redis keys of ${prefix}`);
  }
}

runBenchmark(main);
