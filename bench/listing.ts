import 'reflect-metadata';
import { createHash } from 'node:crypto';
import { PageCursor } from '../api/http/paging';
import { GONE_STATUSES } from '../shared/instances/status';
import { Stack } from '../test/support/stack';
import {
  appendResults,
  cpuTicks,
  idleShare,
  machineLine,
  percentile,
  positiveInt,
  progress,
  quietGate,
  runBenchmark,
  waitForQuiet,
} from './support';

/**
 * Issue 13, benchmarks 5 and 9 (listing half): `GET /admin/instances` at 1k, 10k and 100k instance
 * rows, and the API's peak RSS while it answers.
 *
 * An API from test/support/stack.ts (in this process, no worker) on its own admin database on the
 * real PostgreSQL. The instances table is filled directly with SQL (generate_series; deterministic
 * ids, names, statuses, contexts and times, so two runs list the same rows and the digests of the
 * answers can be compared), then VACUUM ANALYZE (the state autovacuum keeps a table in). For each
 * size, one client (fetch, keep-alive) sends BENCH_REQUESTS (100) requests per case, one at a time,
 * after BENCH_WARMUP (10) untimed ones, and the table shows median, p95 and p99 (nearest rank).
 * The middle and last pages are read both by offset and by cursor (`after`, made from the row before
 * the page as read from the database: what a client holds after paging there), and the two give the
 * same rows (the same digest). The same queries the service sends are also timed alone on the
 * database (the page, and the count behind Total-Count), so the table says where the time goes. RSS is sampled every 20 ms
 * with process.memoryUsage() (API and client share the process; the client holds one response
 * at a time). Prints markdown on stdout, progress on stderr, and appends it to docs/benchmarks.md.
 * BENCH_SIZES (1000,10000,100000) chooses the sizes; BENCH_LABEL names the run (e.g. "before").
 * On a shared 2-CPU machine other work multiplies every figure, so each case first waits (at most
 * BENCH_QUIET_TIMEOUT_S, 120 s; 0: no wait) for the CPUs to be BENCH_QUIET_IDLE (0.6) idle over
 * 1.5 s, and the table gives the CPU idle share while each case ran.
 */

const REQUESTS = positiveInt(process.env.BENCH_REQUESTS, 100);
const WARMUP = positiveInt(process.env.BENCH_WARMUP, 10);
const SIZES = (process.env.BENCH_SIZES ?? '1000,10000,100000').split(',').map((s) => positiveInt(s.trim(), 1));
const LABEL = process.env.BENCH_LABEL ?? '';
const PAGE = 25;
const QUIET = quietGate({ idle: 0.6, timeoutS: 120 });

/** Status of row n: most are Created; some deleted, released, failed or in flight. */
const STATUS_SQL = `CASE
  WHEN n % 100 < 78 THEN 'Created'
  WHEN n % 100 < 88 THEN 'Deleted'
  WHEN n % 100 < 91 THEN 'CreateFailed'
  WHEN n % 100 < 93 THEN 'Released'
  WHEN n % 100 < 95 THEN 'PendingCreate'
  WHEN n % 100 < 97 THEN 'DeleteFailed'
  WHEN n % 100 < 98 THEN 'PendingDelete'
  ELSE 'RenameFailed' END`;

const DISTRICTS = ['Grand Bend ISD', 'Lone Star USD', 'Pine Valley SD', 'Riverside CSD', 'Northridge Academy'];

/** Rows [from, to) of the instances table, made by the database itself. */
async function insertRows(stack: Stack, from: number, to: number): Promise<void> {
  const districts = `(ARRAY[${DISTRICTS.map((d) => `'${d}'`).join(',')}])[1 + n % ${DISTRICTS.length}]`;
  const year = `(2020 + (n / 7) % 8)`;
  await stack.dataSource.query(
    `INSERT INTO instances (id, instance_name, instance_name_key, database_name, status, engine, created_by,
       created_at, updated_at, deleted_at, tenant, instance_type, contexts, context_set_key, protected, template, adopted)
     SELECT md5('odsim-bench-' || n)::uuid,
            name, lower(name),
            'EdFi_Ods_' || n,
            status, 'postgres', 'bench-client',
            timestamptz '2025-01-01 00:00:00+00' + n * interval '1 second',
            timestamptz '2025-01-01 00:00:00+00' + n * interval '1 second',
            CASE WHEN status = 'Deleted' THEN timestamptz '2025-06-01 00:00:00+00' END,
            '', 'Sandbox',
            '[{"contextKey":"schoolYearFromRoute","contextValue":"' || ${year} || '"},{"contextKey":"instanceFromRoute","contextValue":"' || n || '"}]',
            'instancefromroute=' || n || '&schoolyearfromroute=' || ${year},
            n % 50 = 0, NULL, false
     FROM (SELECT n, ${districts} || ' ' || ${year} || ' #' || n AS name, ${STATUS_SQL} AS status
           FROM generate_series($1::int, $2::int) AS n) AS r`,
    [from, to - 1],
  );
}

/** What a case's path is made from, at one size. */
interface Table {
  /** Live instances (the default list's Total-Count). */
  live: number;
  /** The cursor of the row just before the page that starts at `offset` of the default list, in `order`. */
  cursorBefore: (offset: number, order: 'asc' | 'desc') => string;
}

interface Case {
  name: string;
  path: (table: Table) => string;
}

const CASES: Case[] = [
  { name: 'first page', path: () => `/admin/instances?limit=${PAGE}` },
  { name: 'middle page', path: ({ live }) => `/admin/instances?limit=${PAGE}&offset=${middle(live)}` },
  { name: 'last page', path: ({ live }) => `/admin/instances?limit=${PAGE}&offset=${last(live)}` },
  // The same pages by keyset: the same rows (the same digest) as by offset.
  {
    name: 'middle page by cursor',
    path: (t) => `/admin/instances?limit=${PAGE}&after=${t.cursorBefore(middle(t.live), 'asc')}`,
  },
  {
    name: 'last page by cursor',
    path: (t) => `/admin/instances?limit=${PAGE}&after=${t.cursorBefore(last(t.live), 'asc')}`,
  },
  { name: 'first page, newest first', path: () => `/admin/instances?limit=${PAGE}&order=desc` },
  {
    name: 'last page, newest first',
    path: ({ live }) => `/admin/instances?limit=${PAGE}&order=desc&offset=${last(live)}`,
  },
  {
    name: 'last page, newest first, by cursor',
    path: (t) => `/admin/instances?limit=${PAGE}&order=desc&after=${t.cursorBefore(last(t.live), 'desc')}`,
  },
  { name: 'includeDeleted, first page', path: () => `/admin/instances?limit=${PAGE}&includeDeleted=true` },
  { name: 'status=Created', path: () => `/admin/instances?limit=${PAGE}&status=Created` },
  { name: 'status=CreateFailed', path: () => `/admin/instances?limit=${PAGE}&status=CreateFailed` },
  { name: 'status=PendingDelete', path: () => `/admin/instances?limit=${PAGE}&status=PendingDelete` },
  { name: 'status=Deleted', path: () => `/admin/instances?limit=${PAGE}&status=Deleted` },
  { name: 'protected=true', path: () => `/admin/instances?limit=${PAGE}&protected=true` },
  { name: 'instanceName=pine valley (many)', path: () => `/admin/instances?limit=${PAGE}&instanceName=pine%20valley` },
  { name: 'instanceName=#777 (few)', path: () => `/admin/instances?limit=${PAGE}&instanceName=%23777` },
  { name: 'instanceName=nowhere (none)', path: () => `/admin/instances?limit=${PAGE}&instanceName=nowhere` },
];

/** Where the middle and the last page of the default list start. */
const middle = (live: number) => Math.floor(live / 2);
const last = (live: number) => Math.max(0, live - PAGE);

interface Result {
  size: number;
  name: string;
  median: number;
  p95: number;
  p99: number;
  total: string;
  digest: string;
  /** CPU idle share while the case ran (the client's and the API's own work included). */
  idle: number;
  /** Whether the machine was quiet before the case started. */
  quiet: boolean;
}

const elapsedMs = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e6;
const fmt = (ms: number) => ms.toFixed(1);

async function timeCase(stack: Stack, path: string): Promise<Omit<Result, 'size' | 'name'>> {
  const quiet = await waitForQuiet(QUIET);
  const ticks = cpuTicks();
  const headers = { authorization: `Bearer ${stack.tokens.full}` };
  const samples: number[] = [];
  let total = '';
  let digest = '';
  for (let i = 0; i < WARMUP + REQUESTS; i++) {
    const start = process.hrtime.bigint();
    const r = await fetch(stack.baseUrl + path, { headers });
    const body = (await r.json()) as { id: string }[];
    const ms = elapsedMs(start);
    if (r.status !== 200) throw new Error(`GET ${path}: ${r.status} ${JSON.stringify(body)}`);
    if (i >= WARMUP) samples.push(ms);
    total = r.headers.get('total-count') ?? '';
    digest = createHash('sha1')
      .update(`${total}:${body.map((b) => b.id).join(',')}`)
      .digest('hex')
      .slice(0, 8);
  }
  return {
    median: percentile(samples, 50),
    p95: percentile(samples, 95),
    p99: percentile(samples, 99),
    total,
    digest,
    idle: idleShare(ticks),
    quiet,
  };
}

/** Median time of a statement on the admin database alone (the service's connection pool). */
async function timeSql(stack: Stack, sql: string, params: unknown[]): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < 5 + 30; i++) {
    const start = process.hrtime.bigint();
    await stack.dataSource.query(sql, params);
    if (i >= 5) samples.push(elapsedMs(start));
  }
  return percentile(samples, 50);
}

async function main(): Promise<void> {
  const stack = new Stack({ worker: false });
  let peakRss = 0;
  let sampler: NodeJS.Timeout | undefined;
  try {
    await stack.start({ worker: false });
    const serverVersion = (await stack.dataSource.query<{ server_version: string }[]>('SHOW server_version'))[0]!
      .server_version;
    const machine = machineLine(serverVersion);
    const results: Result[] = [];
    const sqlRows: string[] = [];
    const rss: string[] = [];
    const gone = GONE_STATUSES.map((s) => `'${s}'`).join(', ');
    let have = 0;
    for (const size of SIZES) {
      progress(`filling the instances table to ${size} rows`);
      if (size > have) await insertRows(stack, have, size);
      have = Math.max(have, size);
      await stack.dataSource.query('VACUUM ANALYZE instances');
      const live = (
        await stack.dataSource.query<{ live: number }[]>(
          `SELECT count(*)::int AS live FROM instances WHERE tenant = '' AND status NOT IN (${gone})`,
        )
      )[0]!.live;

      // Cursors as a client holds them after paging there: from the row before the page, read from the database.
      const rowsBefore = new Map<string, { id: string; created_at: Date }>();
      for (const [offset, order] of [
        [middle(live), 'asc'],
        [last(live), 'asc'],
        [last(live), 'desc'],
      ] as const) {
        const [row] = await stack.dataSource.query<{ id: string; created_at: Date }[]>(
          `SELECT i.id, i.created_at FROM instances i WHERE i.tenant = '' AND i.status NOT IN (${gone})
           ORDER BY i.created_at ${order}, i.id ${order} OFFSET ${offset - 1} LIMIT 1`,
        );
        rowsBefore.set(`${offset}:${order}`, row!);
      }
      const rowBefore = (offset: number, order: 'asc' | 'desc') => {
        const row = rowsBefore.get(`${offset}:${order}`);
        if (!row) throw new Error(`no row read before offset ${offset} ${order}`);
        return row;
      };
      const table: Table = {
        live,
        cursorBefore: (offset, order) => {
          const row = rowBefore(offset, order);
          return PageCursor.of({ createdAt: row.created_at, id: row.id }).toString();
        },
      };

      const before = process.memoryUsage().rss;
      peakRss = before;
      sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 20);
      for (const c of CASES) {
        const r = await timeCase(stack, c.path(table));
        results.push({ size, name: c.name, ...r });
        progress(
          `  ${size} ${c.name}: median ${fmt(r.median)} p99 ${fmt(r.p99)} ms (Total-Count ${r.total}, CPU idle ${(
            100 * r.idle
          ).toFixed(0)}%${r.quiet ? '' : ', never quiet'})`,
        );
      }
      clearInterval(sampler);
      // What the database alone takes for the statements the service sends (api/instances/service.ts), after the requests.
      const where = `i.tenant = $1 AND i.status NOT IN (${gone})`;
      const count = await timeSql(stack, `SELECT COUNT(*) AS total FROM instances i WHERE ${where}`, ['']);
      const kept = await timeSql(
        stack,
        `SELECT COALESCE(SUM(c.n), 0) AS total FROM instance_counts c WHERE c.tenant = $1 AND c.status NOT IN (${gone})`,
        [''],
      );
      const first = await timeSql(
        stack,
        `SELECT i.id FROM instances i WHERE ${where} ORDER BY i.created_at ASC, i.id ASC LIMIT ${PAGE}`,
        [''],
      );
      const lastByOffset = await timeSql(
        stack,
        `SELECT i.id FROM instances i WHERE ${where} ORDER BY i.created_at ASC, i.id ASC LIMIT ${PAGE} OFFSET ${live - PAGE}`,
        [''],
      );
      const anchor = rowBefore(last(live), 'asc');
      const lastByCursor = await timeSql(
        stack,
        `SELECT i.id FROM instances i WHERE ${where} AND i.created_at >= $2 AND (i.created_at > $2 OR i.id > $3)
         ORDER BY i.created_at ASC, i.id ASC LIMIT ${PAGE + 1}`,
        ['', anchor.created_at, anchor.id],
      );
      const search = await timeSql(
        stack,
        `SELECT COUNT(*) AS total FROM instances i WHERE ${where} AND i.instance_name_key LIKE $2 ESCAPE '\\'`,
        ['', '%#777%'],
      );
      sqlRows.push(
        `| ${size} | ${fmt(count)} | ${fmt(kept)} | ${fmt(first)} | ${fmt(lastByOffset)} | ${fmt(lastByCursor)} | ${fmt(search)} |`,
      );

      rss.push(
        `| ${size} | ${(before / 2 ** 20).toFixed(0)} | ${(peakRss / 2 ** 20).toFixed(0)} | ${(
          (peakRss - before) /
          2 ** 20
        ).toFixed(0)} |`,
      );
    }

    const lines: string[] = [machine];
    lines.push(
      `${REQUESTS} timed requests per case and size (after ${WARMUP} untimed), one client, limit=${PAGE}; ` +
        `p95/p99 nearest rank; rows: ${SIZES.join(', ')}, about 78% Created, 10% Deleted, 2% Released.`,
    );
    const idles = results.map((r) => r.idle).filter((x) => !Number.isNaN(x));
    lines.push(
      `Before each case the run waited (up to ${QUIET.timeoutS} s) for the CPUs to be ≥${(100 * QUIET.idle).toFixed(0)}% idle; ` +
        `${results.filter((r) => !r.quiet).length} of ${results.length} cases started on a machine still busy; ` +
        `CPU idle while the cases ran: median ${(100 * percentile(idles, 50)).toFixed(0)}%, lowest ${(100 * Math.min(...idles)).toFixed(0)}%.`,
    );
    lines.push('');
    lines.push(
      `| case | ${SIZES.map((s) => `${s}: median / p95 / p99 ms`).join(' | ')} | Total-Count | answer digest |`,
    );
    lines.push(`| --- | ${SIZES.map(() => '---:').join(' | ')} | ---: | --- |`);
    for (const c of CASES) {
      const per = SIZES.map((s) => results.find((r) => r.size === s && r.name === c.name)!);
      const lastOne = per.at(-1)!;
      lines.push(
        `| ${c.name} | ${per.map((r) => `${fmt(r.median)} / ${fmt(r.p95)} / ${fmt(r.p99)}`).join(' | ')} | ${
          lastOne.total
        } | \`${lastOne.digest}\` |`,
      );
    }
    lines.push('');
    lines.push(
      "The database alone (median of 30, ms): the statements behind the default list. Total-Count is the sum of instance_counts since 2301c87 (`COUNT(*)`, timed beside it, is what a filter the counts do not know still sends); the page's ids by offset or, since d7a79f0, after a cursor (one row more than the page), then its rows by id:",
    );
    lines.push('');
    lines.push(
      "| rows | COUNT(*) | count from instance_counts (Total-Count) | first page's ids | last page's ids (offset) | last page's ids (cursor) | count of a name search (#777) |",
    );
    lines.push('| ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    lines.push(...sqlRows);
    lines.push('');
    lines.push('Peak RSS of the API process during the listing requests (MiB; sampled every 20 ms):');
    lines.push('');
    lines.push('| rows | RSS before | peak RSS | growth |');
    lines.push('| ---: | ---: | ---: | ---: |');
    lines.push(...rss);
    appendResults(`Listing at scale${LABEL ? `, ${LABEL}` : ''}: run of ${machine.slice(7, 23)}`, lines.join('\n'));
  } finally {
    if (sampler) clearInterval(sampler);
    progress('cleaning up');
    await stack.stop().catch((err) => progress(`clean-up failed: ${(err as Error).message}`));
  }
}

runBenchmark(main);
