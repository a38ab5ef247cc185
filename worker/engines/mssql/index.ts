import type { EngineModule } from '../module';
import { MssqlDriver } from './driver';
import * as names from './names';
import { planMssql } from './plan';
import { prepareMssql } from './prepare';
import { MSSQL_STRATEGIES, type MssqlStrategy, mssqlUrlProblems, MssqlSettings, parseMssqlSettings } from './settings';

/** SQL Server 2016 SP2 and newer, and RDS for SQL Server and Azure SQL Database (by strategy). */
export const mssqlEngine: EngineModule<MssqlSettings> = {
  name: 'mssql',
  label: 'SQL Server 2016 SP2 and newer (also RDS for SQL Server, Azure SQL Database)',
  names,
  serverUrlProblems: mssqlUrlProblems,
  parseSettings: parseMssqlSettings,
  plan: planMssql,
  createDriver: (context) =>
    new MssqlDriver({
      serverUrl: context.serverUrl,
      settings: context.settings,
      poolSize: context.poolSize,
      log: context.log,
      onStep: context.onStep,
      onProgress: context.onProgress,
    }),
  prepare: prepareMssql,
  templateStrategies: {
    // azure-copy is all or nothing (ODS_MSSQL_STRATEGY): Azure SQL Database has no other way to copy.
    choices: MSSQL_STRATEGIES.filter((s) => s !== 'azure-copy'),
    apply: (settings, byDatabase) => ({
      ...settings,
      templateStrategies: { ...settings.templateStrategies, ...(byDatabase as Record<string, MssqlStrategy>) },
    }),
  },
};
