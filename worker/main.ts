import 'reflect-metadata';
import { loadWorkerConfig, redactUrl } from '../shared/config';
import { createAdminDataSource, prepareAdminDatabase } from '../shared/database/data-source';
import { redisConnection } from '../shared/jobs/queue';
import { createLogger } from '../shared/logger';
import { redactRedisUrl } from '../shared/redis';
import { onShutdownSignal } from '../shared/shutdown';
import { startTracing } from '../shared/tracing/provider';
import { loadTracingSettings } from '../shared/tracing/settings';
import { createDriver, engineModule } from './engines/registry';
import { faultInjectionFromEnv } from './fault-injection';
import { loadRegistrationSettings } from './edfi-admin/settings';
import { createWorker } from './worker';

async function main(): Promise<void> {
  const config = loadWorkerConfig();
  // Read (and refused, naming the setting) before anything connects.
  const registration = loadRegistrationSettings(process.env);
  const tracingSettings = loadTracingSettings(process.env, 'worker');
  const log = createLogger('worker', config.logLevel);
  // Before the queue and the worker are made: they take the tracing they find (docs/tracing.md).
  const tracing = startTracing(tracingSettings, log);
  const dataSource = createAdminDataSource(config.adminDatabase);
  // A worker may start before any API: it prepares the admin database itself, under the same lock.
  await prepareAdminDatabase(dataSource, config.adminDatabase, log);

  await engineModule(config.ods.engine).prepare?.({
    serverUrl: config.ods.serverUrl,
    settings: config.ods.engineSettings,
    templateDatabase: config.ods.templateDatabase,
    createStandInTemplate: config.ods.createStandInTemplate,
    log,
  });
  const onStep = faultInjectionFromEnv(process.env, log);
  const driver = createDriver(config, log, onStep);
  const redis = redisConnection(config.redis.target);
  redis.on('error', (err: Error) => log.warn('redis connection error', { event: 'redis.error', error: err.message }));
  const worker = await createWorker({ config, dataSource, driver, redis, logger: log, registration, onStep });
  log.info('connected', {
    event: 'worker.connected',
    odsServer: redactUrl(config.ods.serverUrl),
    redis: redactRedisUrl(config.redis.url),
    template: config.ods.templateDatabase,
  });

  onShutdownSignal(log, async () => {
    await worker.stop();
    await driver.close();
    redis.disconnect();
    await dataSource.destroy();
    await tracing?.shutdown(); // last: sends the spans of the jobs finished above
  });
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
