import type { ParsedSettings } from '../module';

export type PostgresCreateStrategy = '' | 'wal_log' | 'file_copy';

export interface PostgresSettings {
  /** CREATE DATABASE … STRATEGY on PostgreSQL 15+; empty leaves the server's default (WAL_LOG). */
  createStrategy: PostgresCreateStrategy;
}

const STRATEGIES: readonly PostgresCreateStrategy[] = ['', 'wal_log', 'file_copy'];

export function parsePostgresSettings(env: NodeJS.ProcessEnv): ParsedSettings<PostgresSettings> {
  const raw = (env.ODS_PG_CREATE_STRATEGY ?? '').trim().toLowerCase();
  if (STRATEGIES.includes(raw as PostgresCreateStrategy))
    return { settings: { createStrategy: raw as PostgresCreateStrategy }, problems: [] };
  return {
    settings: { createStrategy: '' },
    problems: [
      `ODS_PG_CREATE_STRATEGY=${JSON.stringify(env.ODS_PG_CREATE_STRATEGY)}: must be one of wal_log, file_copy (or empty for the server's default)`,
    ],
  };
}

const POSTGRES_URL = /^postgres(ql)?:\/\/.+/;

export function postgresUrlProblems(url: string): string[] {
  return POSTGRES_URL.test(url) ? [] : ['ODS_SERVER_URL must be a postgres:// URL'];
}
