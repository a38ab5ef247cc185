import { Router } from 'express';
import type { RedisClient } from '../../shared/redis';
import type { DataSource } from 'typeorm';
import { withTimeout } from '../../shared/retry';
import { onlyMethods } from '../http/problems';

const CHECK_TIMEOUT_MS = 1500;

async function check(probe: () => Promise<unknown>): Promise<'up' | 'down'> {
  try {
    await withTimeout(probe(), CHECK_TIMEOUT_MS, 'timed out');
    return 'up';
  } catch {
    return 'down';
  }
}

/** Unauthenticated: says whether the process lives and whether its dependencies answer, nothing more. */
export function healthRoutes(deps: { dataSource: DataSource; redis: RedisClient }): Router {
  const router = Router();
  router.get('/health/live', (_req, res) => {
    res.json({ status: 'up' });
  });
  router.get('/health/ready', async (_req, res) => {
    const [adminDatabase, redis] = await Promise.all([
      check(() => deps.dataSource.query('SELECT 1')),
      check(() => deps.redis.ping()),
    ]);
    const ready = adminDatabase === 'up' && redis === 'up';
    res.status(ready ? 200 : 503).json({ status: ready ? 'up' : 'down', checks: { adminDatabase, redis } });
  });
  router.all(['/health/live', '/health/ready'], onlyMethods('GET'));
  return router;
}
