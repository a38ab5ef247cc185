import type { EngineName } from '../../shared/database-names';
import type { WorkerConfig } from '../../shared/config';
import type { Logger } from '../../shared/logger';
import type { EngineDriver } from './engine';
import { PostgresDriver } from './postgres';

type DriverFactory = (config: WorkerConfig, log: Logger, onStep?: (step: string) => Promise<void>) => EngineDriver;

/** One entry per engine: adding an engine is adding its driver file and a line here. */
const FACTORIES: Record<EngineName, DriverFactory> = {
  postgres: (config, log, onStep) =>
    new PostgresDriver({
      serverUrl: config.ods.serverUrl,
      createStrategy: config.ods.pgCreateStrategy,
      lockTimeoutMs: config.ods.lockTimeoutMs,
      poolSize: config.concurrency.perWorker + 2,
      log,
      onStep,
    }),
};

export function createDriver(
  config: WorkerConfig,
  log: Logger,
  onStep?: (step: string) => Promise<void>,
): EngineDriver {
  return FACTORIES[config.ods.engine](config, log, onStep);
}
