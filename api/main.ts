import 'reflect-metadata';
import type { Server } from 'node:http';
import { loadApiConfig, redactUrl } from '../shared/config';
import { createAdminDataSource, prepareAdminDatabase } from '../shared/database/data-source';
import { readDeploymentId } from '../shared/deployment/identity';
import { SharedRedisWatch } from '../shared/deployment/shared-redis';
import { createQueue, redisConnection } from '../shared/jobs/queue';
import { createInventoryQueue } from '../shared/inventory/queue';
import { createLogger } from '../shared/logger';
import { redactRedisUrl } from '../shared/redis';
import { onShutdownSignal } from '../shared/shutdown';
import { startTracing } from '../shared/tracing/provider';
import { loadTracingSettings } from '../shared/tracing/settings';
import { createApp } from './app';
import { bootstrapFirstClient, resolveSigningKey } from './auth/bootstrap';
import { TokenService } from './auth/tokens';
import { EventHub } from './events/hub';
import { ApiMetrics } from './metrics/registry';
import { METRICS_PATH } from './metrics/routes';
import { startMetricsListener, type MetricsListener } from '../shared/metrics/listener';

async function main(): Promise<void> {
  const config = loadApiConfig();
  const tracingSettings = loadTracingSettings(process.env, 'api');
  const log = createLogger('api', config.logLevel);
  // Before the queue and the app are made: they take the tracing they find (docs/tracing.md).
  const tracing = startTracing(tracingSettings, log);
  const dataSource = createAdminDataSource(config.adminDatabase);
  await prepareAdminDatabase(dataSource, config.adminDatabase, log);
  const signingKey = await resolveSigningKey(config, log);
  const deploymentId = await readDeploymentId(dataSource);
  await bootstrapFirstClient(config, dataSource, log, deploymentId);

  // No offline queue: while Redis is down an enqueue fails at once and the reconciler takes over.
  const redis = redisConnection(config.redis.target, { enableOfflineQueue: false });
  redis.on('error', (err: Error) => log.warn('redis connection error', { event: 'redis.error', error: err.message }));
  const queue = createQueue(redis, config.redis.prefix, deploymentId);
  queue.on('error', () => undefined);
  // POST /admin/inventory asks a worker for a run through it (docs/inventory.md).
  const inventoryQueue = createInventoryQueue(redis, config.redis.prefix, deploymentId);
  inventoryQueue.on('error', () => undefined);
  const sharedRedis = new SharedRedisWatch(redis, config.redis.prefix, deploymentId, log);
  sharedRedis.start();

  const events = new EventHub(
    dataSource,
    { url: config.adminDatabase.url, connectTimeoutMs: config.adminDatabase.connectTimeoutMs, ...config.events },
    log,
  );
  await events.start();

  const metrics = new ApiMetrics({ dataSource, queue });
  const app = createApp({
    metrics,
    events,
    config,
    dataSource,
    queue,
    inventoryQueue,
    deploymentId,
    redis,
    tokens: new TokenService(signingKey, { ...config.tokens, deploymentId }),
    logger: log,
  });
  if (config.engineSettingsProblems.length)
    log.warn('dry runs are unavailable: the engine settings they are planned with are incomplete here', {
      event: 'api.plans_unavailable',
      engine: config.ods.engine,
      problems: config.engineSettingsProblems,
    });
  const server: Server = app.listen(config.http.port, config.http.host, () => {
    log.info('api listening', {
      event: 'api.started',
      host: config.http.host,
      port: config.http.port,
      adminDatabase: redactUrl(config.adminDatabase.url),
      redis: redactRedisUrl(config.redis.url),
      deploymentId,
    });
  });

  // Prometheus without a token, apart from the API's port (docs/observability.md).
  let metricsListener: MetricsListener | undefined;
  if (config.metrics.port !== null)
    metricsListener = await startMetricsListener(
      { port: config.metrics.port, host: config.metrics.host },
      { [METRICS_PATH]: async () => ({ status: 200, ...(await metrics.scrape()) }) },
      log,
      'api',
    );

  onShutdownSignal(log, async () => {
    sharedRedis.stop();
    await metricsListener?.close();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    await events.close(); // ends the open event streams, which would otherwise hold the server open
    await closed;
    await queue.close();
    await inventoryQueue.close();
    redis.disconnect();
    await dataSource.destroy();
    await tracing?.shutdown(); // last: sends the spans of everything above
  });
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
