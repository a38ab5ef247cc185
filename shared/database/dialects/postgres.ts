import { Client, type ClientConfig, Pool, type PoolClient } from 'pg';
import type { DataSource, EntityManager } from 'typeorm';
import { databaseNameOf, sameServerUrl } from '../../urls';
import { errorMessage } from '../../errors';
import {
  isConnectionFailure,
  isDuplicateDatabase,
  isSerializationFailure,
  violatedUniqueConstraint,
} from '../postgres-errors';
import { POSTGRES_MIGRATIONS } from '../migrations/postgres';
import { KEEP_ONE_WARM } from '../pools';
import type { AdminDatabaseSettings, AdminDialect, AdminLockName, LockSession, LockSessions } from './dialect';

/** Connection settings shared by the TypeORM pool, the worker's lock sessions and the event listener. */
function connectionOptions(db: AdminDatabaseSettings) {
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

/**
 * Two bounds where pg's pool has one (connectionTimeoutMillis, for opening a connection and for
 * waiting for a free one alike): opening stays at connectTimeoutMs (an unreachable server is
 * answered 503 at once), waiting for a pooled connection gets poolWaitMs, so that a burst of
 * requests queues for the pool instead of being refused as if the server were gone.
 */
function boundedWaits(db: AdminDatabaseSettings): { connectionTimeoutMillis: number; Client?: typeof Client } {
  const waitMs = db.poolWaitMs ?? db.connectTimeoutMs;
  if (waitMs === db.connectTimeoutMs) return { connectionTimeoutMillis: waitMs };
  class ConnectBoundedClient extends Client {
    constructor(config?: string | ClientConfig) {
      super({
        ...(typeof config === 'string' ? { connectionString: config } : config),
        connectionTimeoutMillis: db.connectTimeoutMs,
      });
    }
  }
  return { connectionTimeoutMillis: waitMs, Client: ConnectBoundedClient };
}

/** Locks named by text (an instance id, a client id) are hashed to 64 bits by the server. */
const TEXT_KEY = 'hashtextextended($1, 0)';
const keyOf = (name: AdminLockName) => (typeof name === 'number' ? '$1::bigint' : TEXT_KEY);

/** The statements the PostgreSQL dialect sends for its locks and for ensure-database. */
export const postgresStatements = {
  lock: 'SELECT pg_advisory_lock($1)',
  unlock: 'SELECT pg_advisory_unlock($1)',
  lockForTransaction: (name: AdminLockName) =>
    typeof name === 'number' ? 'SELECT pg_advisory_xact_lock($1)' : `SELECT pg_advisory_xact_lock(${TEXT_KEY})`,
  tryLock: (name: AdminLockName) => `SELECT pg_try_advisory_lock(${keyOf(name)}) AS locked`,
  unlockAll: 'SELECT pg_advisory_unlock_all()',
  databaseExists: 'SELECT 1 FROM pg_database WHERE datname = $1',
} as const;

class PostgresLockSession implements LockSession {
  private readonly listeners: ((err: Error) => void)[] = [];

  constructor(private readonly session: PoolClient) {}

  async tryLock(name: AdminLockName): Promise<boolean> {
    const [row] = (await this.session.query<{ locked: boolean }>(postgresStatements.tryLock(name), [name])).rows;
    return row?.locked === true;
  }

  async unlockAll(): Promise<void> {
    await this.session.query(postgresStatements.unlockAll);
  }

  release(err?: Error): void {
    for (const listener of this.listeners) this.session.removeListener('error', listener);
    this.session.release(err ?? false);
  }

  onLost(listener: (err: Error) => void): void {
    this.listeners.push(listener);
    this.session.on('error', listener);
  }
}

export const postgresDialect: AdminDialect = {
  name: 'postgres',
  migrations: POSTGRES_MIGRATIONS,

  dataSourceOptions: (db) => ({
    type: 'postgres',
    url: db.url,
    migrations: [...POSTGRES_MIGRATIONS],
    migrationsTableName: 'schema_migrations',
    synchronize: false,
    migrationsRun: false,
    logging: false,
    poolSize: db.poolSize,
    connectTimeoutMS: db.connectTimeoutMs,
    extra: {
      ...connectionOptions(db),
      ...KEEP_ONE_WARM,
      ...boundedWaits(db),
      application_name: 'ods-instance-manager',
    },
  }),

  async ensureDatabase(db, log) {
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
      const found = await client.query(postgresStatements.databaseExists, [name]);
      if (found.rowCount) return;
      await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
      log.info('admin database created', { event: 'admin_db.created', database: name });
    } catch (err) {
      // Another process created it a moment ago.
      if (!isDuplicateDatabase(err)) throw err;
    } finally {
      await client.end().catch(() => undefined);
    }
  },

  async withSessionLock(dataSource: DataSource, name, work) {
    const runner = dataSource.createQueryRunner();
    await runner.connect();
    try {
      await runner.query(postgresStatements.lock, [name]);
      try {
        return await work();
      } finally {
        await runner.query(postgresStatements.unlock, [name]);
      }
    } finally {
      await runner.release();
    }
  },

  async lockForTransaction(m: EntityManager, name) {
    await m.query(postgresStatements.lockForTransaction(name), [name]);
  },

  createLockSessions(db, size, log): LockSessions {
    const pool = new Pool({
      connectionString: db.url,
      max: size,
      ...connectionOptions(db),
      ...KEEP_ONE_WARM,
      application_name: 'ods-instance-manager-locks',
    });
    // An idle session that breaks is replaced by the pool; nothing is held on it.
    pool.on('error', (err) =>
      log.warn('lock session error', { event: 'admin_db.lock_session_error', error: err.message }),
    );
    return {
      acquire: async () => new PostgresLockSession(await pool.connect()),
      close: () => pool.end(),
    };
  },

  isUniqueViolation: (err) => violatedUniqueConstraint(err) !== undefined,
  violatedUniqueConstraint,
  isSerializationFailure,
  isUnavailable: isConnectionFailure,
  booleanLiteral: (value) => (value ? 'true' : 'false'),
  timeParameter: (value) => value,

  eventLog: {
    latestId: 'SELECT coalesce(max(id), 0) AS id FROM events',
    after: `SELECT e.id, e.kind, e.instance_id, e.job_id, e.status, e.occurred_at, i.tenant
  FROM events e LEFT JOIN instances i ON i.id = e.instance_id WHERE e.id > $1 ORDER BY e.id LIMIT $2`,
    prune: `DELETE FROM events WHERE occurred_at < now() - make_interval(hours => $1)`,
  },

  // The triggers of the Events migration NOTIFY odsim_events with each new id.
  async listenForEvents(db, onChange, onLost) {
    const client = new Client({ connectionString: db.url, connectionTimeoutMillis: db.connectTimeoutMs });
    client.on('notification', () => onChange());
    client.on('error', (err) => {
      void client.end().catch(() => undefined);
      onLost(err);
    });
    await client.connect();
    await client.query('LISTEN odsim_events');
    return { close: () => client.end().catch(() => undefined) };
  },
};
