import { expect } from 'chai';
import type { MigrationInterface, QueryRunner } from 'typeorm';
import { CONSTRAINTS } from '../../shared/database/constraints';
import { MSSQL_MIGRATIONS } from '../../shared/database/migrations/mssql';
import { POSTGRES_MIGRATIONS } from '../../shared/database/migrations/postgres';
import { GONE_STATUSES, sqlList, UNFINISHED_JOB_STATUSES } from '../../shared/instances/status';

type Migration = new () => MigrationInterface;

/** Runs each migration's `up` against a runner that only records what it is asked to run. */
async function statementsOf(migrations: readonly Migration[]): Promise<Map<string, string[]>> {
  const byMigration = new Map<string, string[]>();
  for (const Migration of migrations) {
    const sent: string[] = [];
    const runner = {
      query: async (sql: string) => {
        sent.push(sql.replace(/\s+/g, ' ').trim());
        return []; // a fresh database: no rows to re-key
      },
    } as unknown as QueryRunner;
    const migration = new Migration();
    await migration.up(runner);
    byMigration.set(migration.name ?? Migration.name, sent);
  }
  return byMigration;
}

const all = (m: Map<string, string[]>) => [...m.values()].flat();
/** SQL Server's filter for a live instance: a filtered index takes no NOT IN. */
const notGone = GONE_STATUSES.map((s) => `status <> '${s}'`).join(' AND ');

/** The last statement that creates index `name`: what the schema holds once every migration ran. */
const finalIndex = (statements: string[], name: string) =>
  statements.filter((s) => new RegExp(`^CREATE (UNIQUE )?INDEX ${name} `).test(s)).at(-1);

/** Tables, columns, indexes, constraints and triggers a list of statements creates (and drops). */
function schemaOf(statements: string[]): Set<string> {
  const names = new Set<string>();
  for (const s of statements) {
    const table = /^CREATE TABLE (\w+) \((.*)\)$/.exec(s);
    if (table) {
      names.add(`table ${table[1]}`);
      for (const part of table[2]!.split(/,(?![^(]*\))/)) {
        const column = /^\s*(?!CONSTRAINT\b)(\w+) /.exec(part);
        if (column) names.add(`column ${table[1]}.${column[1]}`);
      }
    }
    const added = /^ALTER TABLE (\w+) ADD (?:COLUMN )?\[?(\w+)\]? /.exec(s);
    if (added) names.add(`column ${added[1]}.${added[2]}`);
    for (const [, name] of s.matchAll(/CREATE (?:UNIQUE )?INDEX (\w+)/g)) names.add(`index ${name}`);
    for (const [, name] of s.matchAll(/CREATE TRIGGER (\w+)/g)) names.add(`trigger ${name}`);
    // Constraints a dialect names on purpose (the 409 mapping and the deployment singleton rely on them).
    for (const [, name] of s.matchAll(/CONSTRAINT ((?:uq|ux|ck)_\w+|pk_database_name_claims)/g))
      names.add(`constraint ${name}`);
  }
  return names;
}

describe('the admin database migrations of each dialect', () => {
  let postgres: Map<string, string[]>;
  let mssql: Map<string, string[]>;
  before(async () => {
    postgres = await statementsOf(POSTGRES_MIGRATIONS);
    mssql = await statementsOf(MSSQL_MIGRATIONS);
  });

  it('give every PostgreSQL migration a SQL Server counterpart of the same name, in the same order', () => {
    expect([...mssql.keys()]).to.deep.equal([...postgres.keys()]);
    expect(MSSQL_MIGRATIONS.map((m) => m.name)).to.deep.equal(POSTGRES_MIGRATIONS.map((m) => m.name));
  });

  it('create the same tables, columns, indexes, triggers and named constraints in each migration', () => {
    for (const [name, statements] of postgres) {
      expect(schemaOf(mssql.get(name)!), name).to.deep.equal(schemaOf(statements));
    }
  });

  it('enforce one unfinished job per instance with a filtered unique index of the same name (SQL Server)', () => {
    expect(finalIndex(all(mssql), CONSTRAINTS.oneUnfinishedJob)).to.equal(
      `CREATE UNIQUE INDEX uq_jobs_one_unfinished_per_instance ON jobs (instance_id) WHERE status IN (${sqlList(UNFINISHED_JOB_STATUSES)})`,
    );
    expect(sqlList(UNFINISHED_JOB_STATUSES)).to.equal("'queued', 'running'");
  });

  it('make live instance names unique per tenant on their folded key, deleted ones aside (SQL Server)', () => {
    expect(finalIndex(all(mssql), CONSTRAINTS.activeInstanceName)).to.equal(
      `CREATE UNIQUE INDEX uq_instances_active_name ON instances (tenant, instance_name_key) WHERE ${notGone}`,
    );
    // Each migration that changes the rule drops the index it replaces first.
    for (const name of ['InstanceNameKey1764170000000', 'TenantInstanceNames1764205000000', 'Adoption1764240000000'])
      expect(mssql.get(name)).to.include(`DROP INDEX ${CONSTRAINTS.activeInstanceName} ON instances`);
  });

  it("make a context set unique among a tenant's live instances with a filtered unique index (SQL Server)", () => {
    expect(finalIndex(all(mssql), CONSTRAINTS.contextSet)).to.equal(
      `CREATE UNIQUE INDEX ux_instances_context_set ON instances (tenant, context_set_key) WHERE context_set_key IS NOT NULL AND ${notGone}`,
    );
    expect(mssql.get('Adoption1764240000000')).to.include(`DROP INDEX ${CONSTRAINTS.contextSet} ON instances`);
  });

  it('leave released instances out of the live indexes as deleted ones, in both dialects (Adoption)', () => {
    expect(finalIndex(all(postgres), CONSTRAINTS.activeInstanceName)).to.equal(
      `CREATE UNIQUE INDEX uq_instances_active_name ON instances (tenant, instance_name_key) WHERE status NOT IN ('Deleted', 'Released')`,
    );
    expect(finalIndex(all(postgres), CONSTRAINTS.contextSet)).to.include(
      `WHERE context_set_key IS NOT NULL AND status NOT IN ('Deleted', 'Released')`,
    );
  });

  it('name the database-name claim and client id constraints as the 409 mapping expects (SQL Server)', () => {
    const initial = mssql.get('Initial1764061200000')!.join('\n');
    expect(initial).to.include(`CONSTRAINT ${CONSTRAINTS.databaseNameClaim} PRIMARY KEY (name_key)`);
    expect(initial).to.include(`CONSTRAINT ${CONSTRAINTS.clientId} UNIQUE (client_id)`);
  });

  it('keep to what a SQL Server filtered index accepts: comparisons, IN and IS [NOT] NULL joined by AND', () => {
    const filters = all(mssql)
      .map((s) => /^CREATE (?:UNIQUE )?INDEX \w+ ON \w+ \([^)]*\)(?: INCLUDE \([^)]*\))? WHERE (.*)$/.exec(s)?.[1])
      .filter((w): w is string => w !== undefined);
    expect(filters).to.have.length.greaterThan(4);
    const conjunct =
      /^(?:\w+|\[\w+\]) (?:IN \('[^']*'(?:, '[^']*')*\)|(?:=|<>|<|>|<=|>=) (?:'[^']*'|\d+)|IS (?:NOT )?NULL)$/;
    for (const filter of filters) for (const part of filter.split(' AND ')) expect(part, filter).to.match(conjunct);
  });

  it('use no PostgreSQL-only syntax on SQL Server', () => {
    const postgresOnly =
      /\b(timestamptz|jsonb|bigserial|boolean|plpgsql|pg_notify|now\(\)|lower\(|RETURNING|ADD COLUMN|NOT IN)\b|\buuid\b|\$\d/i;
    for (const [name, statements] of mssql)
      for (const s of statements) expect(s, `${name}: ${s}`).not.to.match(postgresOnly);
  });

  it('store ids as uniqueidentifier, times as datetime2, flags as bit and text as nvarchar (SQL Server)', () => {
    const ddl = all(mssql).join('\n');
    expect(ddl).to.match(/id uniqueidentifier NOT NULL CONSTRAINT pk_instances PRIMARY KEY/);
    expect(ddl).to.match(/created_at datetime2\(3\) NOT NULL/);
    expect(ddl).to.match(/\[force\] bit NOT NULL CONSTRAINT df_jobs_force DEFAULT 0/);
    expect(ddl).not.to.match(/\bvarchar\(/); // nvarchar only: names may hold any Unicode
  });

  it("log changes with triggers that keep TypeORM's row counts (SET NOCOUNT ON) on SQL Server", () => {
    const triggers = mssql.get('Events1764180000000')!.filter((s) => s.startsWith('CREATE TRIGGER'));
    expect(triggers).to.have.length(2);
    for (const t of triggers) expect(t).to.include('AFTER INSERT, UPDATE AS BEGIN SET NOCOUNT ON;');
  });

  describe('instance counts kept by triggers (InstanceCounts, SQL Server; untested on a server here)', () => {
    const statements = () => mssql.get('InstanceCounts1764260000000')!;
    const triggers = () => statements().filter((s) => s.startsWith('CREATE TRIGGER'));

    it('keep the counts in a table keyed by tenant, status and shard, compared exactly as the instances are', () => {
      expect(statements()[0]).to.equal(
        'CREATE TABLE instance_counts ( tenant nvarchar(64) COLLATE Latin1_General_100_BIN2 NOT NULL, ' +
          'status nvarchar(32) COLLATE Latin1_General_100_BIN2 NOT NULL, shard smallint NOT NULL, n bigint NOT NULL, ' +
          'CONSTRAINT pk_instance_counts PRIMARY KEY (tenant, status, shard) )',
      );
    });

    it('count on insert, update and delete, with one trigger each, as on PostgreSQL', () => {
      expect(
        triggers().map((t) => /^CREATE TRIGGER (\w+) ON instances AFTER (\w+) AS/.exec(t)?.slice(1)),
      ).to.deep.equal([
        ['tr_instances_count_insert', 'INSERT'],
        ['tr_instances_count_update', 'UPDATE'],
        ['tr_instances_count_delete', 'DELETE'],
      ]);
      const postgresText = postgres.get('InstanceCounts1764260000000')!.join('\n');
      for (const event of ['insert', 'update', 'delete'])
        expect(postgresText).to.include(
          `CREATE TRIGGER tr_instances_count_${event} AFTER ${event.toUpperCase()} ON instances`,
        );
    });

    it("add +1 per inserted row and -1 per deleted row to the transaction's shard, merging under HOLDLOCK", () => {
      for (const t of triggers()) {
        expect(t).to.include('BEGIN SET NOCOUNT ON;');
        expect(t).to.include('DECLARE @shard smallint = CAST(CURRENT_TRANSACTION_ID() % 8 AS smallint);');
        expect(t).to.include('MERGE instance_counts WITH (HOLDLOCK) AS c');
        expect(t).to.match(
          /SELECT tenant COLLATE \S+ AS tenant, status COLLATE \S+ AS status, 1 AS n FROM inserted UNION ALL/,
        );
        expect(t).to.match(
          /SELECT tenant COLLATE \S+ AS tenant, status COLLATE \S+ AS status, -1 AS n FROM deleted \) d/,
        );
        // An update that moves nothing writes nothing.
        expect(t).to.include('GROUP BY d.tenant, d.status HAVING SUM(d.n) <> 0');
        expect(t).to.include('ON c.tenant = d.tenant AND c.status = d.status AND c.shard = @shard');
        expect(t).to.include('WHEN MATCHED THEN UPDATE SET n = c.n + d.n');
        expect(t).to.match(
          /WHEN NOT MATCHED THEN INSERT \(tenant, status, shard, n\) VALUES \(d\.tenant, d\.status, @shard, d\.n\); END$/,
        );
      }
    });

    it('backfill the rows already there after the triggers exist, holding writers off until the migration commits', () => {
      const all = statements();
      const backfill = all.findIndex((s) => s.startsWith('INSERT INTO instance_counts'));
      expect(backfill).to.equal(all.length - 1);
      expect(all.slice(0, backfill).filter((s) => s.startsWith('CREATE TRIGGER'))).to.have.length(3);
      expect(all[backfill]).to.equal(
        'INSERT INTO instance_counts (tenant, status, shard, n) ' +
          'SELECT tenant, status, 0, COUNT_BIG(*) FROM instances WITH (TABLOCKX, HOLDLOCK) GROUP BY tenant, status',
      );
    });

    it('take back all it made on the way down', async () => {
      const sent: string[] = [];
      const runner = { query: async (sql: string) => void sent.push(sql) } as unknown as QueryRunner;
      await new (MSSQL_MIGRATIONS.find((m) => m.name === 'InstanceCounts1764260000000')!)().down(runner);
      expect(sent).to.deep.equal([
        'DROP TRIGGER tr_instances_count_delete',
        'DROP TRIGGER tr_instances_count_update',
        'DROP TRIGGER tr_instances_count_insert',
        'DROP TABLE instance_counts',
      ]);
    });
  });

  it('serve protected=true from a filtered index of the protected instances in both dialects (ProtectedListing)', () => {
    expect(mssql.get('ProtectedListing1764270000000')).to.deep.equal([
      'CREATE INDEX ix_instances_protected ON instances (tenant, created_at, id) INCLUDE (status) WHERE [protected] = 1',
    ]);
    expect(postgres.get('ProtectedListing1764270000000')).to.deep.equal([
      'CREATE INDEX ix_instances_protected ON instances (tenant, created_at, id) INCLUDE (status) WHERE protected',
    ]);
  });
});
