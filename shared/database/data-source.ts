import 'reflect-metadata';
import { DataSource } from 'typeorm';
import type { CommonConfig } from '../config';
import type { Logger } from '../logger';
import { retryTransient, RetryPolicy } from '../retry';
import { ADVISORY_LOCKS, withAdvisoryLock } from './advisory-locks';
import { ENTITIES } from './entities';
import { errorMessage } from '../errors';
import { adminDialectFor, type LockSessions } from './dialects';

export function createAdminDataSource(db: CommonConfig['adminDatabase']): DataSource {
  return new DataSource({ ...adminDialectFor(db.url).dataSourceOptions(db), entities: ENTITIES });
}

/**
 * The worker's lock sessions, apart from the TypeORM pool: a job holds one for its whole run
 * (session locks live and die with it), so sharing the pool that serves its status writes
 * would let `size` running jobs starve their own writes.
 */
export function createAdminLockSessions(db: CommonConfig['adminDatabase'], size: number, log: Logger): LockSessions {
  return adminDialectFor(db.url).createLockSessions(db, size, log);
}

/**
 * Creates the admin database if it is missing and brings its schema up to date. Any number
 * of APIs and workers may call this at the same moment: creation tolerates a concurrent
 * creator, and migrations run under a database lock, one process at a time.
 */
export async function prepareAdminDatabase(
  dataSource: DataSource,
  db: CommonConfig['adminDatabase'],
  log: Logger,
  waitPolicy: RetryPolicy = { attempts: 40, baseDelayMs: 500, maxDelayMs: 5000 },
): Promise<void> {
  const dialect = adminDialectFor(db.url);
  // The server may still be starting (containers, a failover): wait for it rather than exit.
  await retryTransient(
    async () => {
      await dialect.ensureDatabase(db, log);
      if (!dataSource.isInitialized) await dataSource.initialize();
    },
    {
      ...waitPolicy,
      isTransient: dialect.isUnavailable,
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
