import 'reflect-metadata';
import { Client, Pool } from 'pg';
import { DataSource } from 'typeorm';
import { type CommonConfig, databaseNameOf, sameServerUrl } from '../config';
import type { Logger } from '../logger';
import { retryTransient, RetryPolicy } from '../retry';
import { ADVISORY_LOCKS, withAdvisoryLock } from './advisory-locks';
import { ENTITIES } from './entities';
import { errorMessage } from '../errors';
import { isConnectionFailure, isDuplicateDatabase } from './postgres-errors';
import { Initial1764061200000 } from './migrations/postgres/1764061200000-Initial';
import { Deployment1764150000000 } from './migrations/postgres/1764150000000-Deployment';
import { JobWarnings1764160000000 } from './migrations/postgres/1764160000000-JobWarnings';
import { InstanceNameKey1764170000000 } from './migrations/postgres/1764170000000-InstanceNameKey';
import { Events1764180000000 } from './migrations/postgres/1764180000000-Events';
import { JobsList1764190000000 } from './migrations/postgres/1764190000000-JobsList';
import { EdFiRegistration1764200000000 } from './migrations/postgres/1764200000000-EdFiRegistration';
import { TenantInstanceNames1764205000000 } from './migrations/postgres/1764205000000-TenantInstanceNames';

const POSTGRES_MIGRATIONS = [
  Initial1764061200000,
  Deployment1764150000000,
  JobWarnings1764160000000,
  InstanceNameKey1764170000000,
  Events1764180000000,
  JobsList1764190000000,
  EdFiRegistration1764200000000,
  TenantInstanceNames1764205000000,
];

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
      isTransient: isConnectionFailure,
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
  const client = new Client({
    connectionString: sameServerUrl(db.url, 'postgres'),
    connectionTimeoutMillis: db.connectTimeoutMs,
  });
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
    // Another process created it a moment ago.
    if (!isDuplicateDatabase(err)) throw err;
  } finally {
    await client.end().catch(() => undefined);
  }
}
