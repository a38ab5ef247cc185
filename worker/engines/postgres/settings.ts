import type { ParsedSettings } from '../module';

export type PostgresCreateStrategy = '' | 'wal_log' | 'file_copy';

export interface PostgresSettings {
  /** CREATE DATABASE … STRATEGY on PostgreSQL 15+; empty leaves the choice to the size rule (fileCopyAboveMb). */
  createStrategy: PostgresCreateStrategy;
  /** Per template database (lower case), from ODS_TEMPLATES' `strategy`: overrides createStrategy. */
  templateStrategies: Record<string, PostgresCreateStrategy>;
  /**
   * ODS_PG_FILE_COPY_ABOVE_MB: when no strategy is set for a template, one of at least this many MB
   * (pg_database_size) is copied with FILE_COPY, a smaller one with WAL_LOG. Null or absent: no size
   * rule, the server's default (WAL_LOG).
   */
  fileCopyAboveMb?: number | null;
}

/** From `npm run bench:copy-strategy` (docs/benchmarks.md, "Copy strategy by size"). */
export const DEFAULT_FILE_COPY_ABOVE_MB = 300;
/** How long a template's size is trusted before it is read again (templates rarely change). */
export const TEMPLATE_SIZE_TTL_MS = 10 * 60_000;

const STRATEGIES: readonly PostgresCreateStrategy[] = ['', 'wal_log', 'file_copy'];
/** What a template's `strategy` may be (ODS_TEMPLATES). */
export const TEMPLATE_STRATEGIES = ['wal_log', 'file_copy'] as const;

/** The strategy set for `template`: its own (ODS_TEMPLATES), else ODS_PG_CREATE_STRATEGY; '' when neither is. */
export function createStrategyFor(settings: PostgresSettings, template: string): PostgresCreateStrategy {
  return settings.templateStrategies?.[template.toLowerCase()] ?? settings.createStrategy;
}

/** Whether the strategy for `template` is chosen by its size: none is set for it, and the size rule is on. */
export function choosesBySize(settings: PostgresSettings, template: string): boolean {
  return createStrategyFor(settings, template) === '' && typeof settings.fileCopyAboveMb === 'number';
}

/** The size rule: FILE_COPY at or above the threshold, WAL_LOG below it. */
export function strategyForSize(thresholdMb: number, sizeBytes: number): 'file_copy' | 'wal_log' {
  return sizeBytes >= thresholdMb * 1024 * 1024 ? 'file_copy' : 'wal_log';
}

/**
 * The strategy for one copy: the one set, else by the template's size (read through `sizeOf`, kept
 * per template). A size that cannot be read leaves the server's default. The first copy of a
 * template waits for its size; after TEMPLATE_SIZE_TTL_MS a copy goes by the size it has and reads
 * it again beside the copy (pg_database_size stats every file of the template: 20-30 ms for the
 * 40 MB stand-in here), so an occasional create never waits for it; the next copy sees the new size.
 */
export class CreateStrategyChooser {
  private readonly sizes = new Map<string, { bytes: number; readAt: number }>();
  private readonly refreshing = new Map<string, Promise<void>>();

  constructor(
    private readonly settings: PostgresSettings,
    private readonly now: () => number = Date.now,
  ) {}

  async choose(template: string, sizeOf: () => Promise<number>): Promise<PostgresCreateStrategy> {
    if (!choosesBySize(this.settings, template)) return createStrategyFor(this.settings, template);
    const key = template.toLowerCase();
    let known = this.sizes.get(key);
    if (!known) {
      try {
        known = { bytes: await sizeOf(), readAt: this.now() };
      } catch {
        return '';
      }
      this.sizes.set(key, known);
    } else if (this.now() - known.readAt >= TEMPLATE_SIZE_TTL_MS && !this.refreshing.has(key)) {
      const refresh = sizeOf().then(
        (bytes) => void this.sizes.set(key, { bytes, readAt: this.now() }),
        () => undefined, // kept as it was; read again by the next copy
      );
      this.refreshing.set(
        key,
        refresh.finally(() => this.refreshing.delete(key)),
      );
    }
    return strategyForSize(this.settings.fileCopyAboveMb!, known.bytes);
  }

  /** Settles once the size reads under way have ended (tests). */
  async settled(): Promise<void> {
    await Promise.all(this.refreshing.values());
  }
}

function parseThreshold(raw: string | undefined): { value: number | null; problem?: string } {
  const text = (raw ?? '').trim().toLowerCase();
  if (text === '') return { value: DEFAULT_FILE_COPY_ABOVE_MB };
  if (text === 'off') return { value: null };
  const n = Number(text);
  if (Number.isInteger(n) && n >= 1) return { value: n };
  return {
    value: DEFAULT_FILE_COPY_ABOVE_MB,
    problem: `ODS_PG_FILE_COPY_ABOVE_MB=${JSON.stringify(raw)}: must be a whole number of MB (1 or more), or off`,
  };
}

export function parsePostgresSettings(env: NodeJS.ProcessEnv): ParsedSettings<PostgresSettings> {
  const raw = (env.ODS_PG_CREATE_STRATEGY ?? '').trim().toLowerCase();
  const threshold = parseThreshold(env.ODS_PG_FILE_COPY_ABOVE_MB);
  const problems = threshold.problem ? [threshold.problem] : [];
  const known = STRATEGIES.includes(raw as PostgresCreateStrategy);
  if (!known)
    problems.unshift(
      `ODS_PG_CREATE_STRATEGY=${JSON.stringify(env.ODS_PG_CREATE_STRATEGY)}: must be one of wal_log, file_copy (or empty to choose by the template's size)`,
    );
  return {
    settings: {
      createStrategy: known ? (raw as PostgresCreateStrategy) : '',
      templateStrategies: {},
      fileCopyAboveMb: threshold.value,
    },
    problems,
  };
}

const POSTGRES_URL = /^postgres(ql)?:\/\/.+/;

export function postgresUrlProblems(url: string): string[] {
  return POSTGRES_URL.test(url) ? [] : ['ODS_SERVER_URL must be a postgres:// URL'];
}
