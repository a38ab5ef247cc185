import { expect } from 'chai';
import { ConnectionError, RequestError } from 'mssql';
import { DataSource, type EntityManager, MssqlParameter, QueryFailedError } from 'typeorm';
import { loadApiConfig } from '../../shared/config';
import { adminDialectFor, adminDialectNameOf, dialectOf } from '../../shared/database/dialects';
import {
  appLockResource,
  mssqlConnectionOf,
  mssqlDialect,
  mssqlStatements,
  quoteMssqlIdentifier,
} from '../../shared/database/dialects/mssql';
import { postgresDialect, postgresStatements } from '../../shared/database/dialects/postgres';
import { ENTITIES, InstanceEntity } from '../../shared/database/entities';
import { CONSTRAINTS } from '../../shared/database/constraints';
import { MSSQL_MIGRATIONS } from '../../shared/database/migrations/mssql';
import { POSTGRES_MIGRATIONS } from '../../shared/database/migrations/postgres';
import { ConfigurationError } from '../../shared/errors';

const settings = (url: string) => ({ url, connectTimeoutMs: 3000, queryTimeoutMs: 15_000, poolSize: 7 });

/** A server error as the mssql package raises it from a tedious errorMessage token. */
function mssqlRequestError(number: number, message: string): RequestError {
  const tedious = Object.assign(new Error(message), {
    info: { number, state: 1, class: 14, message, serverName: 'sql1', procName: '', lineNumber: 1 },
  });
  return new RequestError(tedious, 'EREQUEST');
}
/** A connection failure as the mssql package raises it from tedious. */
function mssqlConnectionError(code: string, message: string, extra: Record<string, unknown> = {}): ConnectionError {
  return new ConnectionError(Object.assign(new Error(message), { code, ...extra }));
}
/** A PostgreSQL error as node-postgres raises it. */
const pgError = (code: string, message = 'failed', extra: Record<string, unknown> = {}) =>
  Object.assign(new Error(message), { code, ...extra });
/** Either, as TypeORM wraps it. */
const wrapped = (err: Error) => new QueryFailedError('INSERT …', [], err);

describe('the admin database dialect', () => {
  describe('is chosen once, from the scheme of ADMIN_DATABASE_URL', () => {
    it('reads postgres:// and postgresql:// as PostgreSQL, mssql:// and sqlserver:// as SQL Server', () => {
      expect(adminDialectFor('postgres://u@h:5432/odsim').name).to.equal('postgres');
      expect(adminDialectFor('postgresql://u@h/odsim').name).to.equal('postgres');
      expect(adminDialectFor('mssql://sa:pw@h:1433/odsim').name).to.equal('mssql');
      expect(adminDialectFor('SQLServer://sa:pw@h/odsim').name).to.equal('mssql');
    });

    it('refuses a scheme it has no dialect for', () => {
      expect(adminDialectNameOf('mysql://u@h/odsim')).to.equal(undefined);
      expect(adminDialectNameOf('constructor://u@h/odsim')).to.equal(undefined);
      expect(() => adminDialectFor('mysql://u@h/odsim')).to.throw(/ADMIN_DATABASE_URL must start with/);
    });

    it('lets config take a SQL Server admin database URL and still refuse an unknown one', () => {
      const url = 'mssql://odsim:pw@sql.internal:1433/ods_instance_manager?trustServerCertificate=true';
      expect(loadApiConfig({ ADMIN_DATABASE_URL: url }).adminDatabase.url).to.equal(url);
      expect(() => loadApiConfig({ ADMIN_DATABASE_URL: 'mysql://u@h/odsim' }))
        .to.throw(ConfigurationError)
        .with.property('message')
        .that.includes('ADMIN_DATABASE_URL must be a postgres://, postgresql://, mssql://, sqlserver:// URL');
    });

    it('is found again from a DataSource, by the driver the dialect gave it', () => {
      const pg = new DataSource({ ...postgresDialect.dataSourceOptions(settings('postgres://u@h/odsim')) });
      const ms = new DataSource({ ...mssqlDialect.dataSourceOptions(settings('mssql://sa:pw@h/odsim')) });
      expect(dialectOf(pg)).to.equal(postgresDialect);
      expect(dialectOf(ms)).to.equal(mssqlDialect);
    });
  });

  describe('DataSource options', () => {
    it('keeps PostgreSQL as it was: url, pool size, timeouts, its own migrations table', () => {
      const o = postgresDialect.dataSourceOptions(settings('postgres://u@h:5432/odsim')) as unknown as Record<
        string,
        unknown
      >;
      expect(o).to.include({ type: 'postgres', url: 'postgres://u@h:5432/odsim', poolSize: 7 });
      expect(o.migrationsTableName).to.equal('schema_migrations');
      expect(o.migrations).to.deep.equal([...POSTGRES_MIGRATIONS]);
      expect(o.extra).to.deep.include({
        query_timeout: 15_000,
        statement_timeout: 30_000,
        connectionTimeoutMillis: 3000,
      });
    });

    it('reads a SQL Server URL into host, port, login, database and TLS options, with UTC dates', () => {
      const o = mssqlDialect.dataSourceOptions(
        settings(
          'sqlserver://odsim%40corp:p%3Ass@sql.internal:14330/ods_admin?encrypt=true&trustServerCertificate=yes',
        ),
      ) as unknown as Record<string, unknown>;
      expect(o).to.include({
        type: 'mssql',
        host: 'sql.internal',
        port: 14330,
        username: 'odsim@corp',
        password: 'p:ss',
        database: 'ods_admin',
        connectionTimeout: 3000,
        requestTimeout: 15_000,
        migrationsTableName: 'schema_migrations',
      });
      expect(o.pool).to.deep.equal({ min: 0, max: 7 });
      expect(o.options).to.include({ encrypt: true, trustServerCertificate: true, useUTC: true });
      expect(o.migrations).to.deep.equal([...MSSQL_MIGRATIONS]);
    });

    it('encrypts by default and uses a named instance instead of a port when given one', () => {
      const c = mssqlConnectionOf('mssql://sa:pw@sql.internal/ods_admin?instanceName=EDFI');
      expect(c.options).to.include({ encrypt: true, trustServerCertificate: false, instanceName: 'EDFI' });
      expect(c.port).to.equal(undefined);
      expect(mssqlConnectionOf('mssql://sa:pw@h/x').port).to.equal(1433);
    });

    it('maps every entity onto SQL Server types: text as nvarchar, uuids as uniqueidentifier, flags as bit', async () => {
      const ds = new DataSource({
        ...mssqlDialect.dataSourceOptions(settings('mssql://sa:pw@h/odsim')),
        entities: ENTITIES,
      });
      // Builds and validates the metadata (an unsupported column type throws) without connecting.
      await (ds as unknown as { buildMetadatas(): Promise<void> }).buildMetadatas();
      const types = (table: string) =>
        Object.fromEntries(
          ds.getMetadata(table).columns.map((c) => [c.databaseName, ds.driver.normalizeType(c)] as const),
        );
      expect(types('jobs')).to.include({
        id: 'uniqueidentifier',
        instance_id: 'uniqueidentifier',
        status: 'nvarchar',
        force: 'bit',
        attempts: 'int',
      });
      expect(types('instances')).to.include({
        instance_name: 'nvarchar',
        instance_name_key: 'nvarchar',
        tenant: 'nvarchar',
      });
    });

    it("renders the service's locking read and its pages in SQL Server's syntax", async () => {
      const ds = new DataSource({
        ...mssqlDialect.dataSourceOptions(settings('mssql://sa:pw@h/odsim')),
        entities: ENTITIES,
      });
      await (ds as unknown as { buildMetadatas(): Promise<void> }).buildMetadatas();
      const locked = ds
        .createQueryBuilder(InstanceEntity, 'i')
        .setLock('pessimistic_write')
        .where('i.id = :id', { id: 'x' })
        .getQuery();
      expect(locked).to.include('WITH (UPDLOCK, ROWLOCK)');
      const page = ds
        .createQueryBuilder(InstanceEntity, 'i')
        .where('i.tenant = :tenant', { tenant: '' })
        .orderBy('i.created_at', 'ASC')
        .addOrderBy('i.id', 'ASC')
        .skip(20)
        .take(10)
        .getQuery();
      expect(page).to.include('OFFSET 20 ROWS FETCH NEXT 10 ROWS ONLY');
    });

    it('reads uniqueidentifiers back in lower case, as the API wrote them', async () => {
      const ds = new DataSource({
        ...mssqlDialect.dataSourceOptions(settings('mssql://sa:pw@h/odsim')),
        entities: ENTITIES,
      });
      await (ds as unknown as { buildMetadatas(): Promise<void> }).buildMetadatas();
      const id = ds.getMetadata('jobs').findColumnWithPropertyName('id')!;
      const upper = '3F2C8E1A-0B4D-4C6E-9F10-2A3B4C5D6E7F';
      expect(ds.driver.prepareHydratedValue(upper, id)).to.equal(upper.toLowerCase());
    });
  });

  describe('SQL Server statements', () => {
    it('takes named locks with sp_getapplock, exclusive, owned by the session or the transaction', () => {
      expect(mssqlStatements.getAppLock('@resource', 'Session', 0)).to.equal(
        "DECLARE @result int; EXEC @result = sp_getapplock @Resource = @resource, @LockMode = 'Exclusive', " +
          "@LockOwner = 'Session', @LockTimeout = 0; SELECT @result AS result;",
      );
      expect(mssqlStatements.getAppLock('@0', 'Transaction', -1)).to.include(
        "@LockOwner = 'Transaction', @LockTimeout = -1;",
      );
      expect(mssqlStatements.releaseAppLock('@resource', 'Session')).to.equal(
        "EXEC sp_releaseapplock @Resource = @resource, @LockOwner = 'Session';",
      );
    });

    it('names numbered locks odsim:lock:<key> and keeps text names as they are', () => {
      expect(appLockResource(7_316_001)).to.equal('odsim:lock:7316001');
      expect(appLockResource('odsim:instance:0b0c')).to.equal('odsim:instance:0b0c');
    });

    it('creates the admin database in master only if DB_ID finds none, quoting the name both ways', () => {
      expect(mssqlStatements.createDatabaseIfMissing('ods_instance_manager')).to.equal(
        "IF DB_ID(N'ods_instance_manager') IS NULL CREATE DATABASE [ods_instance_manager];",
      );
      expect(mssqlStatements.createDatabaseIfMissing("we]ird'name];DROP")).to.equal(
        "IF DB_ID(N'we]ird''name];DROP') IS NULL CREATE DATABASE [we]]ird'name]];DROP];",
      );
      expect(quoteMssqlIdentifier('a]]b')).to.equal('[a]]]]b]');
    });

    it('holds a transaction lock with the applock owned by the transaction, and fails on a refused grant', async () => {
      const sent: [string, unknown[]][] = [];
      let result = 0;
      const manager = {
        connection: {},
        query: async (sql: string, params: unknown[]) => {
          sent.push([sql, params]);
          return [{ result }];
        },
      } as unknown as EntityManager;
      await mssqlDialect.lockForTransaction(manager, 'odsim:instance:abc');
      expect(sent).to.deep.equal([[mssqlStatements.getAppLock('@0', 'Transaction', -1), ['odsim:instance:abc']]]);
      result = -3; // chosen as a deadlock victim
      await mssqlDialect.lockForTransaction(manager, 1).then(
        () => expect.fail('a refused applock must throw'),
        (err: Error) => expect(err.message).to.match(/sp_getapplock on 'odsim:lock:1' returned -3/),
      );
    });

    it('holds a waiting lock in an open transaction of its own, around the work, and ends it after', async () => {
      const steps: string[] = [];
      const runner = {
        connect: async () => steps.push('connect'),
        startTransaction: async () => steps.push('begin'),
        query: async (sql: string, params: unknown[]) => {
          steps.push(
            `${sql.includes('sp_getapplock') && sql.includes("'Transaction'") ? 'applock' : sql} ${String(params)}`,
          );
          return [{ result: 0 }];
        },
        commitTransaction: async () => steps.push('commit'),
        rollbackTransaction: async () => steps.push('rollback'),
        release: async () => steps.push('release'),
      };
      const dataSource = { createQueryRunner: () => runner } as unknown as DataSource;
      const answer = await mssqlDialect.withSessionLock(dataSource, 7_316_001, async () => {
        steps.push('work');
        return 42;
      });
      expect(answer).to.equal(42);
      expect(steps).to.deep.equal(['connect', 'begin', 'applock odsim:lock:7316001', 'work', 'commit', 'release']);
    });

    it('keeps the PostgreSQL lock statements as they were', async () => {
      expect(postgresStatements.tryLock('odsim:instance:x')).to.equal(
        'SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS locked',
      );
      expect(postgresStatements.tryLock(7_316_100)).to.equal('SELECT pg_try_advisory_lock($1::bigint) AS locked');
      const sent: string[] = [];
      const manager = { query: async (sql: string) => sent.push(sql) } as unknown as EntityManager;
      await postgresDialect.lockForTransaction(manager, 'client:abc');
      expect(sent).to.deep.equal(['SELECT pg_advisory_xact_lock(hashtextextended($1, 0))']);
    });
  });

  describe('unique violations, named so that each becomes its precise 409', () => {
    it('reads the index name from SQL Server 2601 (a unique index, filtered or not)', () => {
      const err = wrapped(
        mssqlRequestError(
          2601,
          "Cannot insert duplicate key row in object 'dbo.jobs' with unique index 'uq_jobs_one_unfinished_per_instance'. " +
            'The duplicate key value is (3f2c8e1a-0b4d-4c6e-9f10-2a3b4c5d6e7f).',
        ),
      );
      expect(mssqlDialect.isUniqueViolation(err)).to.equal(true);
      expect(mssqlDialect.violatedUniqueConstraint(err)).to.equal(CONSTRAINTS.oneUnfinishedJob);
      expect(
        mssqlDialect.violatedUniqueConstraint(
          mssqlRequestError(
            2601,
            "Cannot insert duplicate key row in object 'dbo.instances' with unique index 'uq_instances_active_name'. " +
              "The duplicate key value is (, it's 'quoted').",
          ),
        ),
      ).to.equal(CONSTRAINTS.activeInstanceName);
    });

    it('reads the constraint name from SQL Server 2627 (a primary key or a unique constraint)', () => {
      expect(
        mssqlDialect.violatedUniqueConstraint(
          wrapped(
            mssqlRequestError(
              2627,
              "Violation of PRIMARY KEY constraint 'pk_database_name_claims'. Cannot insert duplicate key in object " +
                "'dbo.database_name_claims'. The duplicate key value is (edfi_ods_a).",
            ),
          ),
        ),
      ).to.equal(CONSTRAINTS.databaseNameClaim);
      expect(
        mssqlDialect.violatedUniqueConstraint(
          mssqlRequestError(
            2627,
            "Violation of UNIQUE KEY constraint 'uq_api_clients_client_id'. Cannot insert duplicate key in object " +
              "'dbo.api_clients'. The duplicate key value is (ods-admin).",
          ),
        ),
      ).to.equal(CONSTRAINTS.clientId);
    });

    it('says nothing of other SQL Server errors, nor of PostgreSQL errors', () => {
      const fk = mssqlRequestError(
        547,
        'The INSERT statement conflicted with the FOREIGN KEY constraint "fk_jobs_instance".',
      );
      expect(mssqlDialect.violatedUniqueConstraint(fk)).to.equal(undefined);
      expect(mssqlDialect.isUniqueViolation(wrapped(pgError('23505', 'duplicate', { constraint: 'x' })))).to.equal(
        false,
      );
    });

    it('keeps PostgreSQL as it was: 23505 and the constraint node-postgres names', () => {
      const err = wrapped(pgError('23505', 'duplicate key value', { constraint: CONSTRAINTS.contextSet }));
      expect(postgresDialect.isUniqueViolation(err)).to.equal(true);
      expect(postgresDialect.violatedUniqueConstraint(err)).to.equal(CONSTRAINTS.contextSet);
      expect(postgresDialect.violatedUniqueConstraint(wrapped(pgError('23503')))).to.equal(undefined);
      expect(
        postgresDialect.isUniqueViolation(mssqlRequestError(2627, "Violation of PRIMARY KEY constraint 'x'.")),
      ).to.equal(false);
    });
  });

  describe('races and unavailability', () => {
    it('calls a SQL Server deadlock victim (1205) a lost race, as PostgreSQL 40P01', () => {
      expect(
        mssqlDialect.isSerializationFailure(
          wrapped(
            mssqlRequestError(
              1205,
              'Transaction (Process ID 61) was deadlocked on lock resources with another process and has been chosen as the deadlock victim. Rerun the transaction.',
            ),
          ),
        ),
      ).to.equal(true);
      expect(mssqlDialect.isSerializationFailure(mssqlRequestError(2627, 'Violation'))).to.equal(false);
      expect(postgresDialect.isSerializationFailure(wrapped(pgError('40P01')))).to.equal(true);
    });

    it('calls a SQL Server that cannot be reached or cannot take a session unavailable', () => {
      const unavailable = [
        mssqlConnectionError('ESOCKET', 'Failed to connect to 127.0.0.1:1433 - connect ECONNREFUSED 127.0.0.1:1433'),
        mssqlConnectionError('ETIMEOUT', 'Failed to connect to sql.internal:1433 in 3000ms'),
        new ConnectionError('Connection is closed.', 'ECONNCLOSED'),
        wrapped(new RequestError('Timeout: Request failed to complete in 15000ms', 'ETIMEOUT')),
        wrapped(new RequestError('Connection lost - read ECONNRESET', 'ESOCKET')),
        // 4060 at login arrives as ELOGIN, with the server's words and no number.
        mssqlConnectionError(
          'ELOGIN',
          'Cannot open database "ods_instance_manager" requested by the login. The login failed.',
        ),
        mssqlConnectionError('ELOGIN', "Database 'odsim' on server 'x' is not currently available.", {
          isTransient: true,
        }),
        mssqlRequestError(
          40613,
          "Database 'odsim' on server 'x' is not currently available. Please retry the connection later.",
        ),
        mssqlRequestError(40501, 'The service is currently busy. Retry the request after 10 seconds.'),
        mssqlRequestError(40197, 'The service has encountered an error processing your request. Please try again.'),
      ];
      for (const err of unavailable) expect(mssqlDialect.isUnavailable(err), err.message).to.equal(true);
    });

    it('does not call a failed login, a bad statement or a conflict unavailable: waiting would not heal them', () => {
      const permanent = [
        mssqlConnectionError('ELOGIN', "Login failed for user 'odsim'."),
        mssqlRequestError(208, "Invalid object name 'instancez'."),
        mssqlRequestError(2627, "Violation of PRIMARY KEY constraint 'pk_database_name_claims'."),
        mssqlRequestError(229, "The SELECT permission was denied on the object 'instances'."),
      ];
      for (const err of permanent) expect(mssqlDialect.isUnavailable(err), err.message).to.equal(false);
    });

    it('keeps PostgreSQL as it was: refused connections, 57P01, 57P03, 53300', () => {
      for (const code of ['ECONNREFUSED', '57P01', '57P03', '53300'])
        expect(postgresDialect.isUnavailable(wrapped(pgError(code))), code).to.equal(true);
      expect(postgresDialect.isUnavailable(pgError('42601', 'syntax error'))).to.equal(false);
    });
  });

  describe('the event log', () => {
    it('listens for NOTIFY on PostgreSQL and polls on SQL Server, which has none', () => {
      expect(
        mssqlDialect.listenForEvents(
          { url: 'mssql://h/x', connectTimeoutMs: 1000 },
          () => 0,
          () => 0,
        ),
      ).to.equal(null);
      expect(mssqlDialect.eventLog.after).to.match(/^SELECT TOP \(@1\)/);
      expect(mssqlDialect.eventLog.after).to.include('WHERE e.id > CAST(@0 AS bigint) ORDER BY e.id');
      expect(mssqlDialect.eventLog.prune).to.equal(
        'DELETE FROM events WHERE occurred_at < DATEADD(hour, -@0, SYSUTCDATETIME())',
      );
      expect(postgresDialect.eventLog.prune).to.equal(
        'DELETE FROM events WHERE occurred_at < now() - make_interval(hours => $1)',
      );
    });
  });

  describe('values the instance list writes into its SQL', () => {
    it("sends a page cursor's time as datetime2(3) on SQL Server, not the driver's default datetime (1/300 s)", () => {
      const at = new Date('2026-11-26T09:35:16.124Z'); // datetime would round it to .123
      const ms = new DataSource({ ...mssqlDialect.dataSourceOptions(settings('mssql://sa:pw@h/odsim')) });
      const [, params] = ms
        .createQueryBuilder()
        .select('i.id')
        .from('instances', 'i')
        .where('i.created_at >= :t', { t: mssqlDialect.timeParameter(at) })
        .getQueryAndParameters();
      expect(params).to.have.length(1);
      expect(params[0]).to.be.instanceOf(MssqlParameter);
      expect(params[0]).to.deep.include({ value: at, type: 'datetime2', params: [3] });
      expect(postgresDialect.timeParameter(at)).to.equal(at);
    });

    it('writes a flag as a literal a filtered index can match: 1/0 on SQL Server, true/false on PostgreSQL', () => {
      expect([mssqlDialect.booleanLiteral(true), mssqlDialect.booleanLiteral(false)]).to.deep.equal(['1', '0']);
      expect([postgresDialect.booleanLiteral(true), postgresDialect.booleanLiteral(false)]).to.deep.equal([
        'true',
        'false',
      ]);
    });
  });
});
