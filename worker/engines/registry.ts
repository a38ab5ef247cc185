import type { WorkerConfig } from '../../shared/config';
import type { Logger } from '../../shared/logger';
import type { EngineDriver } from './engine';
import type { EngineModule, OperationPlan, PlanRequest } from './module';
import { reportProgress } from '../jobs/progress';
import { observeStep } from '../jobs/steps';
import { commandEngine } from './command';
import { mssqlEngine } from './mssql';
import { postgresEngine } from './postgres';

/** Every engine the product drives: adding one is adding its folder and a line here. */
export const ENGINE_MODULES = {
  postgres: postgresEngine,
  command: commandEngine,
  mssql: mssqlEngine,
} as const;

type Name = keyof typeof ENGINE_MODULES;

export function engineModule(name: Name): EngineModule<unknown> {
  // Each module parses its own settings and is handed back only those (config.ods.engineSettings).
  return ENGINE_MODULES[name];
}

export function createDriver(
  config: WorkerConfig,
  log: Logger,
  onStep?: (step: string) => Promise<void>,
): EngineDriver {
  return engineModule(config.ods.engine).createDriver({
    serverUrl: config.ods.serverUrl,
    settings: config.ods.engineSettings,
    lockTimeoutMs: config.ods.lockTimeoutMs,
    poolSize: config.concurrency.perWorker + 2,
    log,
    // The running job's metrics time the clone between its steps (worker/jobs/steps.ts).
    onStep: async (step) => {
      observeStep(step);
      await onStep?.(step);
    },
    onProgress: reportProgress,
  });
}

export function planOperation(engine: Name, request: PlanRequest, settings: unknown): OperationPlan {
  return engineModule(engine).plan(request, settings);
}
