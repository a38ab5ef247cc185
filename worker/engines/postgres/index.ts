import type { DriverContext, EngineModule } from '../module';
import { PostgresDriver } from './driver';
import * as names from './names';
import { planPostgres, postgresInspection } from './plan';
import {
  CreateStrategyChooser,
  parsePostgresSettings,
  type PostgresCreateStrategy,
  PostgresSettings,
  postgresUrlProblems,
  TEMPLATE_STRATEGIES,
} from './settings';
import { preparePostgres } from './prepare';

function driverFor(context: DriverContext<PostgresSettings>): PostgresDriver {
  // One per driver (so per worker): the template sizes it read are kept for a while.
  const strategies = new CreateStrategyChooser(context.settings);
  return new PostgresDriver({
    serverUrl: context.serverUrl,
    createStrategyFor: (template, sizeOf) => strategies.choose(template, sizeOf),
    lockTimeoutMs: context.lockTimeoutMs,
    poolSize: context.poolSize,
    log: context.log,
    onStep: context.onStep,
    onProgress: context.onProgress,
  });
}

/** PostgreSQL 11 and newer, and the managed forms (RDS, Azure Database for PostgreSQL, Cloud SQL). */
export const postgresEngine: EngineModule<PostgresSettings> = {
  name: 'postgres',
  label: 'PostgreSQL 11 and newer (also RDS, Azure Database for PostgreSQL, Cloud SQL)',
  names,
  serverUrlProblems: postgresUrlProblems,
  parseSettings: parsePostgresSettings,
  plan: planPostgres,
  createDriver: driverFor,
  inspection: { createInspector: driverFor, ...postgresInspection },
  prepare: (context) => preparePostgres(context),
  templateStrategies: {
    choices: TEMPLATE_STRATEGIES,
    apply: (settings, byDatabase) => ({
      ...settings,
      templateStrategies: { ...settings.templateStrategies, ...(byDatabase as Record<string, PostgresCreateStrategy>) },
    }),
  },
};
