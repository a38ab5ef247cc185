import 'reflect-metadata';
import type { Pool } from 'pg';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import { JobEntity } from '../shared/database/entities';
import { JobClaim } from '../worker/jobs/claim';
import { finishPlan, JobFinish } from '../worker/jobs/finish';
import { startStack } from '../test/support/stack';
import { appendResults, machineLine, percentile, positiveInt, progress, runBenchmark } from './support';

/**
 * The worker's admin-database writes around a job, the claim (worker/jobs/claim.ts) and the end
 * (worker/jobs/finish.ts), each in its two forms side by side on PostgreSQL: one statement
 * (data-modifying CTEs, what the worker sends there) against the TypeORM transaction (five and
 * seven round trips: what it sends to SQL Server, and sent everywhere before). One create job,
 * put back to queued (and its instance to PendingCreate) before every claim, then ended as a
 * success; the forms alternate. Wall time per write, and this process's CPU time per write (pg
 * and TypeORM run here; the API's event listener in the same process adds the same to both).
 * BENCH_ITERATIONS (default 200) timed rounds per form after 20 untimed.
 */
const ITERATIONS = positiveInt(process.env.BENCH_ITERATIONS, 200);
const WARMUP = 20;

async function main(): Promise<void> {
  const stack = await startStack({ worker: false });
  try {
    const created = await stack.request('POST', '/admin/instances', {
      body: { instanceName: `claim ${stack.id}`, databaseName: stack.db('claim') },
    });
    if (created.status !== 201) throw new Error(`create answered ${created.status}`);
    const ds = stack.dataSource;
    const row = await ds.getRepository(JobEntity).findOneByOrFail({ id: created.body.job.id });
    const pool = (ds.driver as PostgresDriver).master as Pool;
    const serverVersion = (await pool.query<{ server_version: string }>('SHOW server_version')).rows[0]!.server_version;
    const machine = machineLine(serverVersion);
    const started = new Date().toISOString().slice(0, 16).replace('T', ' ');
    const forms = [
      {
        name: 'one statement (PostgreSQL)',
        claims: new JobClaim(ds, 'bench'),
        finishes: new JobFinish(ds),
      },
      {
        name: 'TypeORM transaction (SQL Server; PostgreSQL before)',
        claims: new JobClaim(ds, 'bench', { transaction: true }),
        finishes: new JobFinish(ds, { transaction: true }),
      },
    ].map((f) => ({ ...f, claim: { wall: [] as number[], cpuMs: 0 }, finish: { wall: [] as number[], cpuMs: 0 } }));
    const reset = async () => {
      await pool.query(`UPDATE jobs SET status = 'queued', attempts = 0, started_at = NULL WHERE id = $1`, [row.id]);
      await pool.query(`UPDATE instances SET status = 'PendingCreate' WHERE id = $1`, [row.instanceId]);
    };
    const timed = async <T>(into: { wall: number[]; cpuMs: number }, record: boolean, op: () => Promise<T>) => {
      const cpu = process.cpuUsage();
      const start = process.hrtime.bigint();
      const result = await op();
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      const used = process.cpuUsage(cpu);
      if (record) {
        into.wall.push(ms);
        into.cpuMs += (used.user + used.system) / 1000;
      }
      return result;
    };
    for (let i = 0; i < WARMUP + ITERATIONS; i++) {
      if (i % 50 === 0) progress(`round ${i}/${WARMUP + ITERATIONS}`);
      for (const form of i % 2 ? [...forms].reverse() : forms) {
        await reset();
        const claimed = await timed(form.claim, i >= WARMUP, () => form.claims.claim(row));
        if (claimed?.status !== 'running') throw new Error(`${form.name} did not claim the job`);
        const plan = finishPlan(claimed, 'succeeded', null, 'bench', { outcome: 'created', warnings: [] });
        await timed(form.finish, i >= WARMUP, () => form.finishes.finish(plan));
        const ended = await ds.getRepository(JobEntity).findOneByOrFail({ id: row.id });
        if (ended.status !== 'succeeded') throw new Error(`${form.name} did not end the job`);
      }
    }
    const lines = forms.flatMap((f) =>
      (['claim', 'finish'] as const).map(
        (what) =>
          `| ${what === 'claim' ? 'claim' : 'end (outcome)'} | ${f.name} | ${f[what].wall.length} | ${percentile(f[what].wall, 50).toFixed(2)} | ${percentile(f[what].wall, 95).toFixed(2)} | ${(f[what].cpuMs / f[what].wall.length).toFixed(2)} |`,
      ),
    );
    appendResults(
      `Claim and end of a job, one statement against the transaction: run of ${started} UTC`,
      `${machine}${process.env.BENCH_LABEL ? ` Label: ${process.env.BENCH_LABEL}.` : ''}\n\n` +
        `${ITERATIONS} timed rounds (a claim, then the end of the job as a success) per form after ${WARMUP} untimed, alternating; the job and its instance put back before each.\n\n` +
        '| write | form | n | median ms | p95 ms | CPU ms per write (this process) |\n| --- | --- | ---: | ---: | ---: | ---: |\n' +
        lines.join('\n'),
    );
  } finally {
    await stack.stop();
  }
}

runBenchmark(main);
