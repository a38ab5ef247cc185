import 'reflect-metadata';
import { Client, Pool } from 'pg';
import { DataSource } from 'typeorm';
import type { CommonConfig } from '../config';
import { databaseNameOf } from '../config';
import type { Logger } from '../logger';
import { retryTransient, RetryPolicy } from '../retry';
import { ENTITIES } from './entities';
import { Initial1764061200000 } from './migrations/postgres/1764061200000-Initial';
import { Deployment1764150000000 } from './migrations/postgres/1764150000000-Deployment';
import { JobWarnings1764160000000 } from './migrations/postgres/1764160000000-JobWarnings';
import { InstanceNameKey1764170000000 } from './migrations/postgres/1764170000000-InstanceNameKey';

const POSTGRES_MIGRATIONS = [
  Initial1764061200000,
  Deployment1764150000000,
  JobWarnings1764160000000,
  InstanceNameKey1764170000000,
];

/** Keys of the advisory locks the processes take on the admin database (any 64-bit number, fixed forever). */
export const ADVISORY_LOCKS = {
  migrate: 7_316_001,
  bootstrapClient: 7_316_002,
  /** Concurrency slot i (0 ≤ i < GLOBAL_CONCURRENCY ≤ 64) is this key + i. */
  concurrencySlot0: 7_316_100,
} as const;

/** Connection settings shared by the TypeORM pool and the worker's lock sessions. */
function connectionOptions(db: CommonConfig['adminDatabase']) {
  return {
    // Fail fast when the admin database is unreachable: the API answers 503, it never hangs.
    connectionTimeoutMillis: db.connectTimeoutMs,
    // A server that stops answering (a network partition drops packets, no reset) must not
    // hold a request or a status write for minutes: give up client-side and report it.
    query_timeout: db.queryTimeoutMs ?? 15_000,
    keepAlive: true,
    statement_timeout: 30_000,
  };
}

export function createAdminDataSource(db: CommonConfig['adminDatabase']): DataSource {
  return new DataSource({
    type: 'postgres',
    url: db.url,
    entities: ENTITIES,
    migrations: POSTGRES_MIGRATIONS,
    migrationsTableName: 'schema_migrations',
    synchronize: false,
    migrationsRun: false,
    logging: false,
    poolSize: db.poolSize,
    connectTimeoutMS: db.connectTimeoutMs,
    extra: { ...connectionOptions(db), application_name: 'ods-instance-manager' },
  });
}

/**
 * The worker's lock sessions, apart from the TypeORM pool: a job holds one for its whole run
 * (session advisory locks live and die with it), so sharing the pool that serves its status
 * writes would let `size` running jobs starve their own writes.
 */
export function createAdminLockPool(db: CommonConfig['adminDatabase'], size: number): Pool {
  return new Pool({
    connectionString: db.url,
    max: size,
    ...connectionOptions(db),
    application_name: 'ods-instance-manager-locks',
  });
}

/**
 * Creates the admin database if it is missing and brings its schema up to date. Any number
 * of APIs and workers may call this at the same moment: creation tolerates a concurrent
 * creator, and migrations run under an advisory lock, one process at a time.
 */
export async function prepareAdminDatabase(
  dataSource: DataSource,
  db: CommonConfig['adminDatabase'],
  log: Logger,
  waitPolicy: RetryPolicy = { attempts: 40, baseDelayMs: 500, maxDelayMs: 5000 },
): Promise<void> {
  // The server may still be starting (containers, a failover): wait for it rather than exit.
  await retryTransient(
    async () => {
      await createDatabaseIfMissing(db, log);
      if (!dataSource.isInitialized) await dataSource.initialize();
    },
    {
      ...waitPolicy,
      isTransient: isAdminDatabaseUnavailable,
      onRetry: (err, attempt, delayMs) =>
        log.warn('admin database not reachable yet; waiting', {
          event: 'admin_db.waiting',
          attempt,
          delayMs,
          error: errorMessage(err),
        }),
    },
  );
  await withAdvisoryLock(dataSource, ADVISORY_LOCKS.migrate, async () => {
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    if (applied.length)
      log.info('admin database migrated', { event: 'admin_db.migrated', migrations: applied.map((m) => m.name) });
  });
}

async function createDatabaseIfMissing(db: CommonConfig['adminDatabase'], log: Logger): Promise<void> {
  const name = databaseNameOf(db.url);
  const maintenance = new URL(db.url);
  maintenance.pathname = '/postgres';
  const client = new Client({ connectionString: maintenance.toString(), connectionTimeoutMillis: db.connectTimeoutMs });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    // No maintenance database to reach (a managed service, a restricted login): assume the admin
    // database was made by the operator; connecting to it will tell.
    log.debug('could not reach the maintenance database; not creating the admin database', {
      event: 'admin_db.create_skipped',
      reason: errorMessage(err),
    });
    return;
  }
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount) return;
    await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
    log.info('admin database created', { event: 'admin_db.created', database: name });
  } catch (err) {
    // 42P04 duplicate_database, 23505: another process created it a moment ago.
    const code = (err as { code?: string }).code;
    if (code !== '42P04' && code !== '23505') throw err;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Runs `work` while holding a session-level advisory lock on one pooled connection. */
export async function withAdvisoryLock<T>(dataSource: DataSource, key: number, work: () => Promise<T>): Promise<T> {
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    await runner.query('SELECT pg_advisory_lock($1)', [key]);
    try {
      return await work();
    } finally {
      await runner.query('SELECT pg_advisory_unlock($1)', [key]);
    }
  } finally {
    await runner.release();
  }
}

const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'EPIPE',
  '57P01',
  '57P02',
  '57P03',
  '53300',
]);

/** True when `err` says the admin database cannot be reached right now (as opposed to a bad query). */
export function isAdminDatabaseUnavailable(err: unknown): boolean {
  let current: unknown = err;
  for (let depth = 0; current && depth < 4; depth++) {
    const e = current as { code?: string; message?: string; driverError?: unknown; cause?: unknown };
    if (e.code && (UNAVAILABLE_CODES.has(e.code) || e.code.startsWith('08'))) return true;
    // 55000 is broad (object not in prerequisite state); at connect time it means the
    // database was set ALLOW_CONNECTIONS false, a maintenance window rather than a bug.
    if (e.code === '55000' && /not currently accepting connections/i.test(e.message ?? '')) return true;
    if (
      e.message &&
      /timeout exceeded when trying to connect|Query read timeout|Connection terminated|connect ECONNREFUSED|Client has encountered a connection error/i.test(
        e.message,
      )
    )
      return true;
    current = e.driverError ?? e.cause;
  }
  return false;
}

/** A deadlock (40P01) or serialization failure (40001): the transaction lost a race and may simply run again. */
export function isSerializationFailure(err: unknown): boolean {
  const e = err as { code?: string; driverError?: { code?: string } };
  const code = e.driverError?.code ?? e.code;
  return code === '40P01' || code === '40001';
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
