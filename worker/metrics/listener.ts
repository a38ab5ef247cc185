import type { RedisClient } from '../../shared/redis';
import type { DataSource } from 'typeorm';
import type { Logger } from '../../shared/logger';
import { readiness } from '../../shared/health';
import { exposition } from '../../shared/metrics/exposition';
import { startMetricsListener, type MetricsListener } from '../../shared/metrics/listener';
import type { WorkerMetrics } from './worker-metrics';

const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * The worker's only HTTP: /metrics for Prometheus, and the probes an orchestrator asks —
 * /health/live (the process answers) and /health/ready (admin database and Redis answer; 503 otherwise).
 */
export function startWorkerListener(
  options: { port: number; host: string },
  deps: { metrics: WorkerMetrics; dataSource: DataSource; redis: RedisClient; log: Logger },
): Promise<MetricsListener> {
  return startMetricsListener(
    options,
    {
      '/metrics': async () => ({ status: 200, ...(await exposition(deps.metrics.registry)) }),
      '/health/live': () =>
        Promise.resolve({ status: 200, contentType: JSON_TYPE, body: JSON.stringify({ status: 'up' }) }),
      '/health/ready': async () => {
        const { ready, checks } = await readiness(deps);
        return {
          status: ready ? 200 : 503,
          contentType: JSON_TYPE,
          body: JSON.stringify({ status: ready ? 'up' : 'down', checks }),
        };
      },
    },
    deps.log,
    'worker',
  );
}
