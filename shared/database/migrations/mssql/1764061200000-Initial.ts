import { MigrationInterface, QueryRunner } from 'typeorm';
import { REMOVED_STATUS, sqlList, UNFINISHED_JOB_STATUSES } from '../../../instances/status';
import { CONSTRAINTS } from '../../constraints';
import { EXACT } from './collation';

/** The PostgreSQL Initial1764061200000 on SQL Server: same tables, columns, index and constraint names. */
export class Initial1764061200000 implements MigrationInterface {
  name = 'Initial1764061200000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE instances (
        id uniqueidentifier NOT NULL CONSTRAINT pk_instances PRIMARY KEY,
        instance_name nvarchar(100) NOT NULL,
        database_name nvarchar(128) NOT NULL,
        previous_database_name nvarchar(128) NULL,
        status nvarchar(32) NOT NULL,
        engine nvarchar(16) NOT NULL,
        last_error nvarchar(2000) NULL,
        created_by nvarchar(64) NOT NULL,
        created_at datetime2(3) NOT NULL,
        updated_at datetime2(3) NOT NULL,
        deleted_at datetime2(3) NULL
      )`);
    // Instance names are unique, ignoring case, among instances that are not deleted: a filtered
    // unique index, on the column itself in its case-insensitive default collation (SQL Server has no
    // index on lower(); InstanceNameKey1764170000000 replaces this with the folded key anyway).
    await q.query(
      `CREATE UNIQUE INDEX ${CONSTRAINTS.activeInstanceName} ON instances (instance_name) WHERE status <> '${REMOVED_STATUS}'`,
    );
    await q.query(`CREATE INDEX ix_instances_status ON instances (status)`);
    await q.query(`CREATE INDEX ix_instances_created_at ON instances (created_at, id)`);

    await q.query(`
      CREATE TABLE jobs (
        id uniqueidentifier NOT NULL CONSTRAINT pk_jobs PRIMARY KEY,
        instance_id uniqueidentifier NOT NULL CONSTRAINT fk_jobs_instance REFERENCES instances (id),
        type nvarchar(16) NOT NULL,
        status nvarchar(16) NOT NULL,
        attempts int NOT NULL CONSTRAINT df_jobs_attempts DEFAULT 0,
        source_database_name nvarchar(128) NULL,
        target_database_name nvarchar(128) NULL,
        prior_status nvarchar(32) NULL,
        error nvarchar(2000) NULL,
        request_id nvarchar(64) NULL,
        requested_by nvarchar(64) ${EXACT} NOT NULL,
        worker_id nvarchar(128) NULL,
        created_at datetime2(3) NOT NULL,
        updated_at datetime2(3) NOT NULL,
        started_at datetime2(3) NULL,
        finished_at datetime2(3) NULL
      )`);
    // At most one unfinished job per instance, enforced here and not only in code: a filtered unique index.
    await q.query(
      `CREATE UNIQUE INDEX ${CONSTRAINTS.oneUnfinishedJob} ON jobs (instance_id) WHERE status IN (${sqlList(UNFINISHED_JOB_STATUSES)})`,
    );
    await q.query(`CREATE INDEX ix_jobs_instance ON jobs (instance_id, created_at)`);
    await q.query(
      `CREATE INDEX ix_jobs_unfinished ON jobs (created_at) WHERE status IN (${sqlList(UNFINISHED_JOB_STATUSES)})`,
    );

    await q.query(`
      CREATE TABLE database_name_claims (
        name_key nvarchar(128) ${EXACT} NOT NULL,
        instance_id uniqueidentifier NOT NULL CONSTRAINT fk_database_name_claims_instance REFERENCES instances (id),
        created_at datetime2(3) NOT NULL,
        CONSTRAINT ${CONSTRAINTS.databaseNameClaim} PRIMARY KEY (name_key)
      )`);

    await q.query(`
      CREATE TABLE audit_events (
        id uniqueidentifier NOT NULL CONSTRAINT pk_audit_events PRIMARY KEY,
        occurred_at datetime2(3) NOT NULL,
        actor nvarchar(128) NOT NULL,
        action nvarchar(64) NOT NULL,
        outcome nvarchar(16) NOT NULL,
        instance_id uniqueidentifier NULL,
        job_id uniqueidentifier NULL,
        request_id nvarchar(64) NULL,
        details nvarchar(2000) NULL
      )`);
    await q.query(`CREATE INDEX ix_audit_events_instance ON audit_events (instance_id, occurred_at)`);

    await q.query(`
      CREATE TABLE api_clients (
        id uniqueidentifier NOT NULL CONSTRAINT pk_api_clients PRIMARY KEY,
        client_id nvarchar(64) ${EXACT} NOT NULL,
        name nvarchar(100) NOT NULL,
        secret_hash nvarchar(255) NOT NULL,
        scopes nvarchar(500) NOT NULL,
        created_at datetime2(3) NOT NULL,
        disabled_at datetime2(3) NULL,
        CONSTRAINT ${CONSTRAINTS.clientId} UNIQUE (client_id)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ['api_clients', 'audit_events', 'database_name_claims', 'jobs', 'instances']) {
      await q.query(`DROP TABLE ${table}`);
    }
  }
}
