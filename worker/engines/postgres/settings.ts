import type { ParsedSettings } from '../module';

export type PostgresCreateStrategy = '' | 'wal_log' | 'file_copy';

export interface PostgresSettings {
  /** CREATE DATABASE … STRATEGY on PostgreSQL 15+; empty leaves the server's default (WAL_LOG). */
  createStrategy: PostgresCreateStrategy;
  /** Per template database (lower case), from ODS_TEMPLATES' `strategy`: overrides createStrategy. */
  templateStrategies: Record<string, PostgresCreateStrategy>;
}

const STRATEGIES: readonly PostgresCreateStrategy[] = ['', 'wal_log', 'file_copy'];
/** What a template's `strategy` may be (ODS_TEMPLATES). */
export const TEMPLATE_STRATEGIES = ['wal_log', 'file_copy'] as const;

export function createStrategyFor(settings: PostgresSettings, template: string): PostgresCreateStrategy {
  return settings.templateStrategies?.[template.toLowerCase()] ?? settings.createStrategy;
}

export function parsePostgresSettings(env: NodeJS.ProcessEnv): ParsedSettings<PostgresSettings> {
  const raw = (env.ODS_PG_CREATE_STRATEGY ?? '').trim().toLowerCase();
  if (STRATEGIES.includes(raw as PostgresCreateStrategy))
    return { settings: { createStrategy: raw as PostgresCreateStrategy, templateStrategies: {} }, problems: [] };
  return {
    settings: { createStrategy: '', templateStrategies: {} },
    problems: [
      `ODS_PG_CREATE_STRATEGY=${JSON.stringify(env.ODS_PG_CREATE_STRATEGY)}: must be one of wal_log, file_copy (or empty for the server's default)`,
    ],
  };
}

const POSTGRES_URL = /^postgres(ql)?:\/\/.+/;

export function postgresUrlProblems(url: string): string[] {
  return POSTGRES_URL.test(url) ? [] : ['ODS_SERVER_URL must be a postgres:// URL'];
}
