import 'reflect-metadata';
import { randomInt } from 'node:crypto';
import { loadWorkerConfig } from '../shared/config';
import { JobEntity } from '../shared/database/entities';
import { sleep } from '../shared/retry';
import { withServer } from '../test/support/ods-server';
import { WorkerFleet, WorkerProcess } from '../test/support/processes';
import { Stack } from '../test/support/stack';
import { waitFor } from '../test/support/wait';
import { appendResults, machineLine, percentile, positiveInt, progress, runBenchmark } from './support';

/**
 * Time to resume a dead worker's job, at the DEFAULT lock settings of shared/config.ts.
 * Each repetition: a victim worker process takes a create and is held at the copy step
 * (ODSIM_FAULT_PAUSE_AT=create.cloning, worker/fault-injection.ts); an idle healthy worker
 * process starts; after a random 0–5 s (so the kill falls anywhere in the victim's lock-renewal
 * cycle) the victim gets SIGKILL. Measured from the kill: until the healthy worker logs
 * `job.started` for that job (it claimed the row again), and until the instance is `Created`.
 * BENCH_RESUME_REPETITIONS (default 6). Prints markdown on stdout and appends it to
 * docs/benchmarks.md; progress goes to stderr.
 */

const REPETITIONS = positiveInt(process.env.BENCH_RESUME_REPETITIONS, 6);
/** Empty values mean "not set": the workers run with the defaults of shared/config.ts. */
const DEFAULTS = {
  JOB_LOCK_DURATION_MS: '',
  STALLED_INTERVAL_MS: '',
  RECONCILE_INTERVAL_MS: '',
  GLOBAL_CONCURRENCY: '',
  WORKER_CONCURRENCY: '',
  TRANSIENT_RETRY_ATTEMPTS: '',
  TRANSIENT_RETRY_BASE_MS: '',
  TRANSIENT_RETRY_MAX_MS: '',
};

const seconds = (ms: number) => (ms / 1000).toFixed(2);

/** When the worker logged the event (its own timestamp), in epoch milliseconds. */
function loggedAt(event: Record<string, unknown>): number {
  const at = Date.parse(String(event.timestamp));
  return Number.isFinite(at) ? at : Date.now();
}

async function main(): Promise<void> {
  const serverVersion = await withServer(async (c) => (await c.query('SHOW server_version')).rows[0].server_version);
  const machine = machineLine(serverVersion);
  const stack = new Stack({ worker: false, env: DEFAULTS });
  const fleet = new WorkerFleet(() => stack.env);
  const resumed: number[] = [];
  const created: number[] = [];
  try {
    await stack.start({ worker: false });
    const { locks, reconcileIntervalMs } = loadWorkerConfig(stack.env);
    progress(
      `lock ${locks.lockDurationMs} ms, stalled check every ${locks.stalledIntervalMs} ms, reconcile every ${reconcileIntervalMs} ms`,
    );
    for (let i = 0; i < REPETITIONS; i++) {
      const victim = fleet.spawn({ ODSIM_FAULT_PAUSE_AT: 'create.cloning', ODSIM_FAULT_PAUSE_MS: '600000' });
      await victim.waitForEvent('worker.started');
      const post = await stack.request('POST', '/admin/instances', {
        body: { instanceName: `Resume ${stack.id} ${i}`, databaseName: stack.db(`resume_${i}`) },
      });
      if (post.status !== 201) throw new Error(`create refused: ${post.status} ${JSON.stringify(post.body)}`);
      const jobId = post.body.job.id as string;
      await victim.waitForEvent('fault.paused', (e) => e.jobId === jobId || e.step === 'create.cloning');
      const healthy: WorkerProcess = fleet.spawn();
      await healthy.waitForEvent('worker.started');
      await sleep(randomInt(0, 5000));
      const killedAt = Date.now();
      await victim.kill('SIGKILL');
      const started = await healthy.waitForEvent('job.started', (e) => e.jobId === jobId, 120_000);
      const resumedAfter = loggedAt(started) - killedAt;
      await waitFor(
        async () =>
          (await stack.dataSource.getRepository(JobEntity).findOneBy({ id: jobId, status: 'succeeded' })) ?? undefined,
        `job ${jobId} to succeed`,
        120_000,
        20,
      );
      const createdAfter = Date.now() - killedAt;
      resumed.push(resumedAfter);
      created.push(createdAfter);
      progress(`  #${i + 1}: resumed after ${seconds(resumedAfter)} s, Created after ${seconds(createdAfter)} s`);
      await fleet.killAll();
    }
  } finally {
    await fleet.killAll();
    await stack.stop().catch((err) => progress(`stack clean-up failed: ${(err as Error).message}`));
  }
  const { locks, reconcileIntervalMs } = loadWorkerConfig({ ...stack.env });
  const row = (what: string, s: number[]) =>
    `| ${what} | ${s.length} | ${seconds(Math.min(...s))} | ${seconds(percentile(s, 50))} | ${seconds(Math.max(...s))} |`;
  appendResults(
    `Time to resume a dead worker's job: run of ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`,
    [
      machine,
      '',
      `Default settings: JOB_LOCK_DURATION_MS=${locks.lockDurationMs}, STALLED_INTERVAL_MS=${locks.stalledIntervalMs}, ` +
        `RECONCILE_INTERVAL_MS=${reconcileIntervalMs}. ${REPETITIONS} repetitions; the victim was held at ` +
        '`create.cloning` and killed (SIGKILL) 0–5 s (random) after an idle healthy worker had started. Target: resumed in under 15 s.',
      '',
      '| from the SIGKILL until | n | min s | median s | max s |',
      '| --- | ---: | ---: | ---: | ---: |',
      row('the healthy worker logs `job.started` for the job', resumed),
      row('the job is recorded `succeeded` (instance `Created`)', created),
    ].join('\n'),
  );
}

runBenchmark(main);
