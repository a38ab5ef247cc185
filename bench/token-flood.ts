import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import { Stack, startStack } from '../test/support/stack';
import { postToken } from '../test/support/token-requests';
import { positiveInt, progress, runBenchmark } from './support';

/**
 * Issue 6, finding 1: does a flood of wrong secrets on /connect/token slow authenticated
 * traffic? Starts a stack as the tests do (in-process API on an isolated admin database, the
 * real PostgreSQL and Redis, default token limits), then floods /connect/token with
 * FLOOD_REQUESTS (600) wrong secrets for unknown client ids from FLOOD_ADDRESSES (20) loopback
 * addresses (127.0.9.x), FLOOD_CONCURRENCY (40) at a time, while one prober alternately runs an
 * authenticated GET /admin/instances and GET /health/live and times each. The same probes
 * without the flood give the baseline. Prints markdown on stdout; progress on stderr.
 * Run on demand (`npm run bench:token-flood`), never in tests: it loads the machine for a while.
 */
const REQUESTS = positiveInt(process.env.FLOOD_REQUESTS, 600);
const ADDRESSES = Math.min(250, positiveInt(process.env.FLOOD_ADDRESSES, 20));
const CONCURRENCY = positiveInt(process.env.FLOOD_CONCURRENCY, 40);
const BASELINE_PROBES = positiveInt(process.env.BASELINE_PROBES, 50);

function percentile(samples: number[], p: number): number {
  const s = [...samples].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]! : NaN;
}

interface Probes {
  admin: number[];
  live: number[];
  adminStatuses: Map<number, number>;
}

async function probeOnce(stack: Stack, probes: Probes): Promise<void> {
  let started = process.hrtime.bigint();
  const admin = await stack.request('GET', '/admin/instances?limit=1');
  probes.admin.push(Number(process.hrtime.bigint() - started) / 1e6);
  probes.adminStatuses.set(admin.status, (probes.adminStatuses.get(admin.status) ?? 0) + 1);
  started = process.hrtime.bigint();
  await stack.request('GET', '/health/live', { token: null });
  probes.live.push(Number(process.hrtime.bigint() - started) / 1e6);
}

async function flood(stack: Stack): Promise<Map<number, number>> {
  const statuses = new Map<number, number>();
  let next = 0;
  const sender = async () => {
    while (next < REQUESTS) {
      const i = next++;
      const address = `127.0.9.${(i % ADDRESSES) + 1}`;
      const r = await postToken(
        stack.baseUrl,
        {
          grant_type: 'client_credentials',
          client_id: `odsim_${randomBytes(10).toString('hex')}`,
          client_secret: 'wrong',
        },
        address,
        120_000,
      ).catch(() => ({ status: 0 }));
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, sender));
  return statuses;
}

function row(label: string, probes: Probes): string {
  const f = (n: number) => n.toFixed(1);
  return (
    `| ${label} | ${probes.admin.length} | ${f(percentile(probes.admin, 50))} | ${f(percentile(probes.admin, 99))} | ${f(Math.max(...probes.admin))} | ` +
    `${f(percentile(probes.live, 50))} | ${f(percentile(probes.live, 99))} | ${f(Math.max(...probes.live))} |`
  );
}

async function main(): Promise<void> {
  // The default limits (30 token requests per address per minute): 20 addresses x 30 = 600 pass them.
  const stack = await startStack({ worker: false, env: { TOKEN_RATE_LIMIT_PER_MINUTE: '30' } });
  try {
    progress('baseline probes');
    const baseline: Probes = { admin: [], live: [], adminStatuses: new Map() };
    for (let i = 0; i < BASELINE_PROBES; i++) await probeOnce(stack, baseline);

    progress(`flooding: ${REQUESTS} wrong secrets from ${ADDRESSES} addresses, ${CONCURRENCY} at a time`);
    const during: Probes = { admin: [], live: [], adminStatuses: new Map() };
    let flooding = true;
    const started = Date.now();
    const floodDone = flood(stack).finally(() => {
      flooding = false;
    });
    while (flooding) await probeOnce(stack, during);
    const statuses = await floodDone;
    const floodSeconds = (Date.now() - started) / 1000;

    console.log(
      `Node ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'}), ${new Date().toISOString().slice(0, 10)}`,
    );
    console.log(
      `Flood: ${REQUESTS} wrong-secret token requests (unknown client ids) from ${ADDRESSES} loopback addresses, ${CONCURRENCY} at a time, ${floodSeconds.toFixed(1)} s; answers ${JSON.stringify(Object.fromEntries(statuses))}`,
    );
    console.log(
      `Authenticated GET statuses during the flood: ${JSON.stringify(Object.fromEntries(during.adminStatuses))}\n`,
    );
    console.log(
      '| | probes | GET /admin/instances p50 ms | p99 ms | max ms | GET /health/live p50 ms | p99 ms | max ms |',
    );
    console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
    console.log(row('no flood', baseline));
    console.log(row('during the flood', during));
  } finally {
    await stack.stop();
  }
}

runBenchmark(main);
