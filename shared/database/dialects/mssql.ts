import { ConnectionPool, NVarChar, type config as MssqlConfig } from 'mssql';
import { type DataSource, type EntityManager, MssqlParameter } from 'typeorm';
import { errorMessage } from '../../errors';
import { MSSQL_MIGRATIONS } from '../migrations/mssql';
import {
  type AdminDatabaseSettings,
  type AdminDialect,
  type AdminLockName,
  errorChain,
  type LockSession,
  type LockSessions,
} from './dialect';
import { SOCKET_ERROR_CODES, TEDIOUS_CONNECTION_CODES } from '../connection-codes';

/** SQL Server error numbers this product acts on (sys.messages; Azure SQL's documented transient errors). */
export const MSSQL_ERRORS = {
  /** Cannot insert duplicate key row in object … with unique index '…'. */
  duplicateKeyRow: 2601,
  /** Violation of PRIMARY KEY / UNIQUE KEY constraint '…'. */
  uniqueConstraint: 2627,
  /** Database '…' already exists. */
  databaseExists: 1801,
  /** Transaction was deadlocked … and has been chosen as the deadlock victim. */
  deadlockVictim: 1205,
  /** Snapshot isolation transaction aborted due to update conflict. */
  snapshotConflict: 3960,
} as const;

/**
 * The server cannot take a session now: a database that cannot be opened (still recovering,
 * restoring, or failing over), Azure SQL's documented transient errors (service busy, database
 * not currently available, resource limits, reconfiguration), network-level errors the server
 * reported. Login failed (18456) is not here: a wrong password does not heal by waiting.
 */
const UNAVAILABLE_NUMBERS = new Set([
  4060, // cannot open database requested by the login
  4221, // login to read-secondary failed: long wait on HADR_DATABASE_WAIT_FOR_TRANSITION_TO_VERSIONING
  18401, // login failed: server is in script upgrade mode
  40197,
  40501,
  40540,
  40613,
  42108,
  42109,
  49918,
  49919,
  49920,
  10928,
  10929, // Azure SQL
  233,
  10053,
  10054,
  10060,
  64,
  20, // transport errors the server side reports
]);
/** The mssql/tedious driver's codes for a connection that failed, closed, or a request that timed out. */
const UNAVAILABLE_CODES = new Set<string>([...SOCKET_ERROR_CODES, ...TEDIOUS_CONNECTION_CODES]);

/**
 * An error during login reaches the driver as ELOGIN with the server's message and no number
 * (tedious marks the ones SqlClient calls transient with isTransient, until its own retries run
 * out): these messages are 4060, 40613, 40501 and 40197. "Login failed for user" is not among them.
 */
const UNAVAILABLE_LOGIN_MESSAGES =
  /Cannot open database .* requested by the login|is not currently available|service is currently busy|encountered an error processing your request/i;

const numberOf = (err: unknown): number | undefined => {
  for (const link of errorChain(err)) if (typeof link.number === 'number') return link.number;
  return undefined;
};

/** `name` as a bracketed identifier: `]` doubled, so no name can close the bracket. */
export function quoteMssqlIdentifier(name: string): string {
  return `[${name.replace(/]/g, ']]')}]`;
}

/** `value` as a Unicode string literal: `'` doubled. */
export function mssqlStringLiteral(value: string): string {
  return `N'${value.replace(/'/g, "''")}'`;
}

/** The applock resource a lock name takes (sp_getapplock names are text, up to 255 characters). */
export function appLockResource(name: AdminLockName): string {
  return typeof name === 'number' ? `odsim:lock:${name}` : name;
}

export type AppLockOwner = 'Session' | 'Transaction';

/** The statements the SQL Server dialect sends for its locks and for ensure-database. */
export const mssqlStatements = {
  /**
   * Takes an exclusive applock; returns one row `{ result }`: 0 or 1 granted, -1 timed out (never
   * with -1 as timeout), -2 cancelled, -3 deadlock victim, -999 bad call. `resource` is a parameter.
   */
  getAppLock: (resource: string, owner: AppLockOwner, timeoutMs: number) =>
    `DECLARE @result int; EXEC @result = sp_getapplock @Resource = ${resource}, @LockMode = 'Exclusive', ` +
    `@LockOwner = '${owner}', @LockTimeout = ${Math.trunc(timeoutMs)}; SELECT @result AS result;`,
  releaseAppLock: (resource: string, owner: AppLockOwner) =>
    `EXEC sp_releaseapplock @Resource = ${resource}, @LockOwner = '${owner}';`,
  /** Run in master. CREATE DATABASE takes no parameters: the name is quoted, never interpolated raw. */
  createDatabaseIfMissing: (name: string) =>
    `IF DB_ID(${mssqlStringLiteral(name)}) IS NULL CREATE DATABASE ${quoteMssqlIdentifier(name)};`,
} as const;

function checkAppLock(result: unknown, resource: string): boolean {
  const code = Number(result);
  if (code >= 0) return true;
  if (code === -1) return false;
  throw new Error(`sp_getapplock on '${resource}' returned ${code}`);
}

export interface MssqlConnection {
  server: string;
  port: number | undefined;
  user: string | undefined;
  password: string | undefined;
  database: string;
  options: { encrypt: boolean; trustServerCertificate: boolean; instanceName: string | undefined; useUTC: true };
}

/** The parts of an mssql:// or sqlserver:// URL; options come from its query string. */
export function mssqlConnectionOf(url: string, database?: string): MssqlConnection {
  const u = new URL(url);
  const flag = (name: string, fallback: boolean) => {
    const value = u.searchParams.get(name);
    return value === null ? fallback : ['1', 'true', 'yes', 'on'].includes(value.toLowerCase());
  };
  const instanceName = u.searchParams.get('instanceName') ?? undefined;
  return {
    server: decodeURIComponent(u.hostname),
    port: instanceName ? undefined : Number(u.port || 1433),
    user: decodeURIComponent(u.username) || undefined,
    password: decodeURIComponent(u.password) || undefined,
    database: database ?? (decodeURIComponent(u.pathname.replace(/^\//, '')) || 'master'),
    options: {
      // tedious encrypts by default; a development container's self-signed certificate needs trustServerCertificate=true.
      encrypt: flag('encrypt', true),
      trustServerCertificate: flag('trustServerCertificate', false),
      instanceName,
      // Dates are instants: read and written as UTC, whatever the process's time zone.
      useUTC: true,
    },
  };
}

function poolConfig(
  db: AdminDatabaseSettings,
  database: string | undefined,
  max: number,
  appName: string,
): MssqlConfig {
  const base = mssqlConnectionOf(db.url, database);
  return {
    ...base,
    connectionTimeout: db.connectTimeoutMs,
    requestTimeout: db.queryTimeoutMs ?? 15_000,
    options: { ...base.options, appName },
    pool: { min: 0, max },
  };
}

/**
 * A lock session on SQL Server: a pool of exactly one connection, so every statement runs on the
 * same session and session-owned applocks stay with it. Closing it drops whatever it held.
 */
class MssqlLockSession implements LockSession {
  private readonly held = new Set<string>();

  constructor(private readonly pool: ConnectionPool) {}

  async tryLock(name: AdminLockName): Promise<boolean> {
    const resource = appLockResource(name);
    const result = await this.pool
      .request()
      .input('resource', NVarChar(255), resource)
      .query<{ result: number }>(mssqlStatements.getAppLock('@resource', 'Session', 0));
    const granted = checkAppLock(result.recordset[0]?.result, resource);
    if (granted) this.held.add(resource);
    return granted;
  }

  async unlockAll(): Promise<void> {
    for (const resource of [...this.held]) {
      await this.pool
        .request()
        .input('resource', NVarChar(255), resource)
        .query(mssqlStatements.releaseAppLock('@resource', 'Session'));
      this.held.delete(resource);
    }
  }

  release(): void {
    this.held.clear();
    void this.pool.close().catch(() => undefined);
  }

  onLost(listener: (err: Error) => void): void {
    this.pool.on('error', listener);
  }
}

async function queryAppLock(
  run: (sql: string, params: unknown[]) => Promise<unknown>,
  name: AdminLockName,
  owner: AppLockOwner,
): Promise<void> {
  const resource = appLockResource(name);
  const rows = (await run(mssqlStatements.getAppLock('@0', owner, -1), [resource])) as { result: number }[];
  if (!checkAppLock(rows[0]?.result, resource)) throw new Error(`sp_getapplock on '${resource}' was not granted`);
}

export const mssqlDialect: AdminDialect = {
  name: 'mssql',
  migrations: MSSQL_MIGRATIONS,

  dataSourceOptions(db) {
    const c = mssqlConnectionOf(db.url);
    return {
      type: 'mssql',
      host: c.server,
      port: c.port,
      username: c.user,
      password: c.password,
      database: c.database,
      options: { ...c.options, appName: 'ods-instance-manager' },
      pool: { min: 0, max: db.poolSize },
      // Fail fast when the admin database is unreachable: the API answers 503, it never hangs.
      connectionTimeout: db.connectTimeoutMs,
      requestTimeout: db.queryTimeoutMs ?? 15_000,
      migrations: [...MSSQL_MIGRATIONS],
      migrationsTableName: 'schema_migrations',
      synchronize: false,
      migrationsRun: false,
      logging: false,
    };
  },

  async ensureDatabase(db, log) {
    const name = mssqlConnectionOf(db.url).database;
    const master = new ConnectionPool(poolConfig(db, 'master', 1, 'ods-instance-manager'));
    master.on('error', () => undefined);
    try {
      await master.connect();
    } catch (err) {
      // No master to reach (Azure SQL Database with a contained user, a restricted login): assume
      // the operator made the admin database; connecting to it will tell.
      log.debug('could not reach master; not creating the admin database', {
        event: 'admin_db.create_skipped',
        reason: errorMessage(err),
      });
      return;
    }
    try {
      const found = await master
        .request()
        .input('name', NVarChar(128), name)
        .query<{ id: number | null }>('SELECT DB_ID(@name) AS id');
      if (typeof found.recordset[0]?.id === 'number') return;
      await master.request().batch(mssqlStatements.createDatabaseIfMissing(name));
      log.info('admin database created', { event: 'admin_db.created', database: name });
    } catch (err) {
      // Another process created it a moment ago.
      if (numberOf(err) !== MSSQL_ERRORS.databaseExists) throw err;
    } finally {
      await master.close().catch(() => undefined);
    }
  },

  /**
   * TypeORM runs statements outside a transaction on any pooled connection, so a session-owned
   * applock could be taken on one and released on another: the lock is owned by an open, otherwise
   * empty transaction instead, which keeps one connection until `work` is done.
   */
  async withSessionLock(dataSource: DataSource, name, work) {
    const runner = dataSource.createQueryRunner();
    await runner.connect();
    try {
      await runner.startTransaction();
      try {
        await queryAppLock((sql, params) => runner.query(sql, params), name, 'Transaction');
        return await work();
      } finally {
        await runner.commitTransaction().catch(() => runner.rollbackTransaction().catch(() => undefined));
      }
    } finally {
      await runner.release();
    }
  },

  async lockForTransaction(m: EntityManager, name) {
    await queryAppLock((sql, params) => m.query(sql, params), name, 'Transaction');
  },

  createLockSessions(db, _size, log): LockSessions {
    // One single-connection pool per held session; the worker holds at most its concurrency + 1.
    return {
      async acquire() {
        const pool = new ConnectionPool(poolConfig(db, undefined, 1, 'ods-instance-manager-locks'));
        pool.on('error', (err: Error) =>
          log.warn('lock session error', { event: 'admin_db.lock_session_error', error: err.message }),
        );
        await pool.connect();
        return new MssqlLockSession(pool);
      },
      close: () => Promise.resolve(),
    };
  },

  isUniqueViolation: (err) => mssqlDialect.violatedUniqueConstraint(err) !== undefined,

  violatedUniqueConstraint: (err) => {
    for (const link of errorChain(err)) {
      if (link.number !== MSSQL_ERRORS.duplicateKeyRow && link.number !== MSSQL_ERRORS.uniqueConstraint) continue;
      const message = typeof link.message === 'string' ? link.message : '';
      const named = /with unique index '([^']+)'/.exec(message) ?? /constraint '([^']+)'/.exec(message);
      return named?.[1] ?? '';
    }
    return undefined;
  },

  isSerializationFailure: (err) => {
    const n = numberOf(err);
    return n === MSSQL_ERRORS.deadlockVictim || n === MSSQL_ERRORS.snapshotConflict;
  },

  isUnavailable: (err) =>
    errorChain(err).some((e) => {
      if (typeof e.number === 'number' && UNAVAILABLE_NUMBERS.has(e.number)) return true;
      if (e.code === 'ELOGIN')
        return e.isTransient === true || (typeof e.message === 'string' && UNAVAILABLE_LOGIN_MESSAGES.test(e.message));
      return typeof e.code === 'string' && UNAVAILABLE_CODES.has(e.code);
    }),

  booleanLiteral: (value) => (value ? '1' : '0'),
  // datetime2(3), as every time column is on SQL Server (Initial1764061200000).
  timeParameter: (value) => new MssqlParameter(value, 'datetime2', 3),

  eventLog: {
    latestId: 'SELECT coalesce(max(id), 0) AS id FROM events',
    after: `SELECT TOP (@1) e.id, e.kind, e.instance_id, e.job_id, e.status, e.occurred_at, i.tenant
  FROM events e LEFT JOIN instances i ON i.id = e.instance_id WHERE e.id > CAST(@0 AS bigint) ORDER BY e.id`,
    prune: `DELETE FROM events WHERE occurred_at < DATEADD(hour, -@0, SYSUTCDATETIME())`,
  },

  // SQL Server has no LISTEN/NOTIFY (Service Broker is not on Azure SQL Database): the hub polls.
  listenForEvents: () => null,
};
