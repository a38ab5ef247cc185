import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Client } from 'pg';
import { silentLogger } from '../shared/logger';
import { quote } from '../worker/engines/postgres/names';
import { ED_FI_SCALE, ensureStandInTemplate } from '../worker/templates/stand-in';
import { connectTo, databaseExists, databasesLike, dropDatabases, withServer } from '../test/support/ods-server';
import { EDFI_TEMPLATE, POSTGRES_URL } from '../test/support/settings';
import {
  appendResults,
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
 * Copy strategy by size (issue 13, benchmark 8): `CREATE DATABASE … TEMPLATE … STRATEGY = WAL_LOG`
 * against `STRATEGY = FILE_COPY` (PostgreSQL 15+), for the Ed-Fi-scale stand-in (~40 MB) and a
 * populated template (the stand-in plus large tables filled with generate_series, ≥ 300 MB; made
 * once as POPULATED_TEMPLATE and kept for re-runs; BENCH_DROP_POPULATED=1 drops it at the end), and
 * one in between (MEDIUM_TEMPLATE, one bulk table) to see where the two strategies cross.
 *
 * Each sample: an untimed CHECKPOINT, a wait for quiet CPUs, then the statement alone (timed), then
 * a CHECKPOINT (timed): WAL_LOG copies through shared buffers and leaves the copy for the next
 * checkpoint to write, so its fair cost is the statement plus that checkpoint. WAL bytes are the
 * pg_current_wal_lsn() difference across the statement. Strategies and templates interleave, the
 * order alternating per iteration; BENCH_ITERATIONS (5) each. Nothing is dropped until the end
 * (see "Caveats" in docs/benchmarks.md: dropping right before creating is slow on this ext4).
 */

export const POPULATED_TEMPLATE = 'odsim_bench_template_populated_v1';
/** Between the two: the stand-in plus one bulk table (~150 MB), to see where the strategies cross. */
export const MEDIUM_TEMPLATE = 'odsim_bench_template_medium_v1';
const ITERATIONS = positiveInt(process.env.BENCH_ITERATIONS, 5);
/** Rows in each of the populated template's four bulk tables (~100 MB each with its index). */
const POPULATED_ROWS = positiveInt(process.env.BENCH_POPULATED_ROWS, 400_000);
const DROP_POPULATED = ['1', 'true', 'yes', 'on'].includes((process.env.BENCH_DROP_POPULATED ?? '').toLowerCase());
const QUIET = quietGate({ idle: 0.8, timeoutS: 300 });
const RECORD = !['0', 'false', 'no', 'off'].includes((process.env.BENCH_COPY_RECORD ?? '1').toLowerCase());
const STRATEGIES = ['WAL_LOG', 'FILE_COPY'] as const;
type Strategy = (typeof STRATEGIES)[number];

const RUN_ID = randomBytes(3).toString('hex');
const PREFIX = `odsim_bench_${RUN_ID}_`;

const now = () => performance.now();

/** The stand-in plus `tables` bulk tables: made once, then kept (a template nobody connects to). */
async function ensurePopulatedTemplate(name: string, tables: number): Promise<void> {
  if (await databaseExists(name)) return;
  const building = `${name}_building`;
  progress(`making ${name} (once; kept for later runs)`);
  await dropDatabases([building]);
  await withServer((c) => c.query(`CREATE DATABASE ${quote(building)} TEMPLATE ${quote(EDFI_TEMPLATE)}`));
  const c = await connectTo(building);
  try {
    for (let t = 1; t <= tables; t++) {
      await c.query(
        `CREATE TABLE edfi.bulk_${t} AS
           SELECT g AS id, md5(g::text) AS code_value, 'uri://ed-fi.org/Bulk/' || g AS namespace,
                  repeat(md5((g * ${t})::text), 4) AS description, now() AS last_modified_date
           FROM generate_series(1, ${POPULATED_ROWS}) g`,
      );
      await c.query(`ALTER TABLE edfi.bulk_${t} ADD PRIMARY KEY (id)`);
      progress(`  bulk table ${t} of ${tables} filled`);
    }
    await c.query('VACUUM (ANALYZE, FREEZE)');
  } finally {
    await c.end();
  }
  // Made under another name and renamed when complete, so an interrupted build is never mistaken for the template.
  await withServer((s) => s.query(`ALTER DATABASE ${quote(building)} RENAME TO ${quote(name)}`));
}

interface Sample {
  statementMs: number;
  checkpointMs: number;
  walBytes: number;
  noisy: boolean;
}

async function lsn(c: Client): Promise<string> {
  return (await c.query<{ l: string }>('SELECT pg_current_wal_lsn()::text AS l')).rows[0]!.l;
}

async function walDiff(c: Client, from: string, to: string): Promise<number> {
  return Number((await c.query<{ d: string }>('SELECT pg_wal_lsn_diff($2, $1)::text AS d', [from, to])).rows[0]!.d);
}

async function sample(c: Client, template: string, strategy: Strategy, name: string): Promise<Sample> {
  await c.query('CHECKPOINT');
  const noisy = !(await waitForQuiet(QUIET));
  const before = await lsn(c);
  const t0 = now();
  await c.query(`CREATE DATABASE ${quote(name)} TEMPLATE ${quote(template)} STRATEGY = ${strategy}`);
  const t1 = now();
  const after = await lsn(c);
  const t2 = now();
  await c.query('CHECKPOINT');
  const t3 = now();
  return { statementMs: t1 - t0, checkpointMs: t3 - t2, walBytes: await walDiff(c, before, after), noisy };
}

const med = (xs: number[]) => percentile(xs, 50);
const ms = (x: number) => x.toFixed(0);
const mb = (bytes: number) => (bytes / 1048576).toFixed(1);

async function main(): Promise<void> {
  interruptible();

  const c = new Client({ connectionString: POSTGRES_URL, application_name: 'odsim-bench-copy' });
  c.on('error', () => undefined);
  const samples = new Map<string, Sample[]>();
  try {
    await ensureStandInTemplate(POSTGRES_URL, EDFI_TEMPLATE, ED_FI_SCALE, silentLogger());
    await ensurePopulatedTemplate(MEDIUM_TEMPLATE, 1);
    await ensurePopulatedTemplate(POPULATED_TEMPLATE, 4);
    await c.connect();
    const version = (await c.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]!.v;
    const versionNum = Number(
      (await c.query<{ n: string }>("SELECT current_setting('server_version_num') AS n")).rows[0]!.n,
    );
    if (versionNum < 150000) throw new Error(`PostgreSQL ${version} has no CREATE DATABASE … STRATEGY (15+)`);
    const machine = machineLine(version);
    const settings = (
      await c.query<{ name: string; setting: string }>(
        `SELECT name, current_setting(name) AS setting FROM unnest(ARRAY['shared_buffers','max_wal_size','checkpoint_completion_target','wal_level','full_page_writes']) AS name`,
      )
    ).rows
      .map((r) => `${r.name}=${r.setting}`)
      .join(', ');
    const templates = [EDFI_TEMPLATE, MEDIUM_TEMPLATE, POPULATED_TEMPLATE];
    const sizes = new Map<string, number>();
    for (const t of templates)
      sizes.set(t, Number((await c.query<{ s: string }>('SELECT pg_database_size($1)::text AS s', [t])).rows[0]!.s));

    for (let i = 0; i < ITERATIONS && !stopRequest.interrupted; i++) {
      const order = templates.flatMap((t) => STRATEGIES.map((s) => [t, s] as const));
      if (i % 2) order.reverse();
      for (const [template, strategy] of order) {
        if (stopRequest.interrupted) break;
        const key = `${template} ${strategy}`;
        const s = await sample(
          c,
          template,
          strategy,
          `${PREFIX}${i}_${templates.indexOf(template)}_${strategy.toLowerCase()}`,
        );
        samples.set(key, [...(samples.get(key) ?? []), s]);
        progress(
          `  ${i + 1}/${ITERATIONS} ${key}: statement ${ms(s.statementMs)} ms, CHECKPOINT after ${ms(s.checkpointMs)} ms, WAL ${mb(s.walBytes)} MB${s.noisy ? ' (noisy)' : ''}`,
        );
      }
    }
    if (stopRequest.interrupted) throw new Error('interrupted');

    const lines = [
      machine,
      '',
      `${settings}. ${ITERATIONS} samples per row, interleaved (order reversed every other iteration); before each, an untimed CHECKPOINT and a wait for ≥${(100 * QUIET.idle).toFixed(0)}% idle CPUs. ` +
        `${[...samples.values()].flat().filter((s) => s.noisy).length} of ${[...samples.values()].flat().length} samples taken on a machine that never got quiet. Medians, with min–max.`,
      '',
      '| template | size MB | strategy | statement ms | CHECKPOINT after ms | statement + CHECKPOINT ms | WAL MB |',
      '| --- | ---: | --- | ---: | ---: | ---: | ---: |',
    ];
    const range = (xs: number[]) => `${ms(med(xs))} (${ms(Math.min(...xs))}–${ms(Math.max(...xs))})`;
    for (const t of templates)
      for (const strategy of STRATEGIES) {
        const xs = samples.get(`${t} ${strategy}`)!;
        lines.push(
          `| \`${t}\` | ${mb(sizes.get(t)!)} | ${strategy} | ${range(xs.map((x) => x.statementMs))} | ${range(xs.map((x) => x.checkpointMs))} | ${range(xs.map((x) => x.statementMs + x.checkpointMs))} | ${mb(med(xs.map((x) => x.walBytes)))} |`,
        );
      }
    const markdown = lines.join('\n');
    if (RECORD)
      appendResults(
        `Copy strategy by size: run of ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`,
        markdown,
      );
    else process.stdout.write(`${markdown}\n`);
  } finally {
    progress('cleaning up');
    await c.end().catch(() => undefined);
    await dropDatabases(await databasesLike(PREFIX)).catch((err) =>
      progress(`clean-up failed: ${(err as Error).message}`),
    );
    if (DROP_POPULATED) await dropDatabases([MEDIUM_TEMPLATE, POPULATED_TEMPLATE]);
    const left = await databasesLike(PREFIX);
    if (left.length) progress(`WARNING: databases left behind: ${left.join(', ')}`);
  }
}

runBenchmark(main);
