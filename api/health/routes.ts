import { Router } from 'express';
import type { RedisClient } from '../../shared/redis';
import type { DataSource } from 'typeorm';
import { readiness } from '../../shared/health';
import { onlyMethods } from '../http/problems';

/** Unauthenticated: says whether the process lives and whether its dependencies answer, nothing more. */
export function healthRoutes(deps: { dataSource: DataSource; redis: RedisClient }): Router {
  const router = Router();
  router.get('/health/live', (_req, res) => {
    res.json({ status: 'up' });
  });
  router.get('/health/ready', async (_req, res) => {
    const { ready, checks } = await readiness(deps);
    res.status(ready ? 200 : 503).json({ status: ready ? 'up' : 'down', checks });
  });
  router.all(['/health/live', '/health/ready'], onlyMethods('GET'));
  return router;
}
