import { Router } from 'express';
import { requireAccess } from '../auth/middleware';
import { onlyMethods } from '../http/problems';
import type { ApiMetrics } from './registry';

export const METRICS_PATH = '/metrics';

/**
 * Prometheus metrics on the API's own port, behind authentication with read access like the
 * admin routes. METRICS_PORT serves the same without a token, on a listener of its own (api/main.ts).
 */
export function metricsRoutes(metrics: ApiMetrics): Router {
  const router = Router();
  router.get(METRICS_PATH, requireAccess('read'), async (_req, res) => {
    const { contentType, body } = await metrics.scrape();
    res.set('Content-Type', contentType).send(body);
  });
  router.all(METRICS_PATH, onlyMethods('GET'));
  return router;
}
