import type { RedisClient } from './redis';
import type { DataSource } from 'typeorm';
import { withTimeout } from './retry';

const CHECK_TIMEOUT_MS = 1500;

export type CheckResult = 'up' | 'down';

export interface Readiness {
  ready: boolean;
  checks: { adminDatabase: CheckResult; redis: CheckResult };
}

async function check(probe: () => Promise<unknown>): Promise<CheckResult> {
  try {
    await withTimeout(probe(), CHECK_TIMEOUT_MS, 'timed out');
    return 'up';
  } catch {
    return 'down';
  }
}

/** Whether the admin database and Redis answer, each within a bounded time (the API's and the worker's /health/ready). */
export async function readiness(deps: { dataSource: DataSource; redis: RedisClient }): Promise<Readiness> {
  const [adminDatabase, redis] = await Promise.all([
    check(() => deps.dataSource.query('SELECT 1')),
    check(() => deps.redis.ping()),
  ]);
  return { ready: adminDatabase === 'up' && redis === 'up', checks: { adminDatabase, redis } };
}
