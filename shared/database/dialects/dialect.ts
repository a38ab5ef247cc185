import type { DataSource, DataSourceOptions, EntityManager, MigrationInterface } from 'typeorm';
import type { CommonConfig } from '../../config';
import type { Logger } from '../../logger';

export type AdminDatabaseSettings = CommonConfig['adminDatabase'];
export type AdminDialectName = 'postgres' | 'mssql';

/**
 * A lock the processes take on the admin database: a number (the fixed locks, see
 * ../advisory-locks.ts) or a text (an instance id). Locks live in one admin database, so two
 * deployments never collide on them.
 */
export type AdminLockName = number | string;

/** One database session of its own, held by a running job for its whole run. */
export interface LockSession {
  /** Takes `name` on this session without waiting; false if another session holds it. */
  tryLock(name: AdminLockName): Promise<boolean>;
  /** Gives back every lock this session holds. */
  unlockAll(): Promise<void>;
  /** Hands the session back; after an error it is destroyed, so the server drops whatever it held. */
  release(err?: Error): void;
  /** Called if the session breaks while held: its locks are gone with it. */
  onLost(listener: (err: Error) => void): void;
}

/** The sessions a worker's jobs hold their locks on, apart from the TypeORM pool. */
export interface LockSessions {
  acquire(): Promise<LockSession>;
  close(): Promise<void>;
}

/** The admin database's change log (api/events/hub.ts): how to read it, prune it and hear of changes. */
export interface EventLogSql {
  /** One row `{ id }`: the newest id, 0 if none. */
  latestId: string;
  /** Parameters: the id to read after (as text), how many rows at most. */
  after: string;
  /** Parameter: how many hours to keep. */
  prune: string;
}

export interface EventListening {
  close(): Promise<void>;
}

/**
 * Everything about the admin database that depends on its server: chosen once, from the scheme of
 * ADMIN_DATABASE_URL (dialects/index.ts). Callers never name a server function, an error number or a
 * SQLSTATE themselves.
 */
export interface AdminDialect {
  readonly name: AdminDialectName;
  /** The migrations of this dialect, oldest first (shared/database/migrations/<dialect>/). */
  readonly migrations: readonly (new () => MigrationInterface)[];
  /** TypeORM options: driver, pool, timeouts, migrations; `entities` is added by the caller. */
  dataSourceOptions(db: AdminDatabaseSettings): DataSourceOptions;
  /** Creates the admin database if it is missing, from a maintenance connection; tolerates a concurrent creator. */
  ensureDatabase(db: AdminDatabaseSettings, log: Logger): Promise<void>;

  /** Runs `work` while holding `name` on one pooled connection (waits for it). */
  withSessionLock<T>(dataSource: DataSource, name: AdminLockName, work: () => Promise<T>): Promise<T>;
  /** Holds `name` until the caller's transaction ends (waits for it). */
  lockForTransaction(manager: EntityManager, name: AdminLockName): Promise<void>;
  /** Sessions for the worker's job locks, `size` at most. */
  createLockSessions(db: AdminDatabaseSettings, size: number, log: Logger): LockSessions;

  // Plain functions (no `this`), so callers may hand them on: `isTransient: dialect.isUnavailable`.
  /** True when `err` is a unique (or primary key) violation. */
  readonly isUniqueViolation: (err: unknown) => boolean;
  /** The name of the unique constraint or index `err` violated ('' if unnamed); undefined if it is no unique violation. */
  readonly violatedUniqueConstraint: (err: unknown) => string | undefined;
  /** A deadlock or serialization failure: the transaction lost a race and may simply run again. */
  readonly isSerializationFailure: (err: unknown) => boolean;
  /** The server cannot be reached or cannot take a session now (as opposed to a bad statement). */
  readonly isUnavailable: (err: unknown) => boolean;

  /** A boolean column's value as SQL text: a literal where a partial (filtered) index must see it (`true`, `1`). */
  readonly booleanLiteral: (value: boolean) => string;
  /**
   * A time as a query parameter, compared with a time column at the column's precision (the mssql
   * driver sends a bare Date as datetime, rounded to 1/300 s, which would move a page cursor).
   */
  readonly timeParameter: (value: Date) => unknown;

  readonly eventLog: EventLogSql;
  /** Calls `onChange` when the change log grows; null where the server has no notifications (the hub then polls). */
  listenForEvents(
    db: Pick<AdminDatabaseSettings, 'url' | 'connectTimeoutMs'>,
    onChange: () => void,
    onLost: (err: Error) => void,
  ): Promise<EventListening> | null;
}

export interface DriverErrorLink {
  code?: unknown;
  number?: unknown;
  message?: unknown;
  constraint?: unknown;
  isTransient?: unknown;
  driverError?: unknown;
  originalError?: unknown;
  cause?: unknown;
}

/** `err` and what it wraps (TypeORM's driverError, mssql's originalError, an Error's cause), outermost first. */
export function errorChain(err: unknown): DriverErrorLink[] {
  const links: DriverErrorLink[] = [];
  let current: unknown = err;
  for (let depth = 0; current !== null && typeof current === 'object' && depth < 5; depth++) {
    const link = current as DriverErrorLink;
    links.push(link);
    current = link.driverError ?? link.originalError ?? link.cause;
  }
  return links;
}
