import { MigrationInterface, QueryRunner } from 'typeorm';
import { REMOVED_STATUS, sqlList, UNFINISHED_JOB_STATUSES } from '../../../instances/status';
import { CONSTRAINTS } from '../../constraints';

export class Initial1764061200000 implements MigrationInterface {
  name = 'Initial1764061200000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE instances (
        id uuid PRIMARY KEY,
        instance_name varchar(100) NOT NULL,
        database_name varchar(128) NOT NULL,
        previous_database_name varchar(128),
        status varchar(32) NOT NULL,
        engine varchar(16) NOT NULL,
        last_error varchar(2000),
        created_by varchar(64) NOT NULL,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        deleted_at timestamptz
      )`);
    // Instance names are unique, ignoring case, among instances that are not deleted.
    await q.query(
      `CREATE UNIQUE INDEX ${CONSTRAINTS.activeInstanceName} ON instances (lower(instance_name)) WHERE status <> '${REMOVED_STATUS}'`,
    );
    await q.query(`CREATE INDEX ix_instances_status ON instances (status)`);
    await q.query(`CREATE INDEX ix_instances_created_at ON instances (created_at, id)`);

    await q.query(`
      CREATE TABLE jobs (
        id uuid PRIMARY KEY,
        instance_id uuid NOT NULL REFERENCES instances (id),
        type varchar(16) NOT NULL,
        status varchar(16) NOT NULL,
        attempts int NOT NULL DEFAULT 0,
        source_database_name varchar(128),
        target_database_name varchar(128),
        prior_status varchar(32),
        error varchar(2000),
        request_id varchar(64),
        requested_by varchar(64) NOT NULL,
        worker_id varchar(128),
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        started_at timestamptz,
        finished_at timestamptz
      )`);
    // At most one unfinished job per instance, enforced here and not only in code.
    await q.query(
      `CREATE UNIQUE INDEX ${CONSTRAINTS.oneUnfinishedJob} ON jobs (instance_id) WHERE status IN (${sqlList(UNFINISHED_JOB_STATUSES)})`,
    );
    await q.query(`CREATE INDEX ix_jobs_instance ON jobs (instance_id, created_at)`);
    await q.query(
      `CREATE INDEX ix_jobs_unfinished ON jobs (created_at) WHERE status IN (${sqlList(UNFINISHED_JOB_STATUSES)})`,
    );

    await q.query(`
      CREATE TABLE database_name_claims (
        name_key varchar(128) NOT NULL,
        instance_id uuid NOT NULL REFERENCES instances (id),
        created_at timestamptz NOT NULL,
        CONSTRAINT ${CONSTRAINTS.databaseNameClaim} PRIMARY KEY (name_key)
      )`);

    await q.query(`
      CREATE TABLE audit_events (
        id uuid PRIMARY KEY,
        occurred_at timestamptz NOT NULL,
        actor varchar(128) NOT NULL,
        action varchar(64) NOT NULL,
        outcome varchar(16) NOT NULL,
        instance_id uuid,
        job_id uuid,
        request_id varchar(64),
        details varchar(2000)
      )`);
    await q.query(`CREATE INDEX ix_audit_events_instance ON audit_events (instance_id, occurred_at)`);

    await q.query(`
      CREATE TABLE api_clients (
        id uuid PRIMARY KEY,
        client_id varchar(64) NOT NULL,
        name varchar(100) NOT NULL,
        secret_hash varchar(255) NOT NULL,
        scopes varchar(500) NOT NULL,
        created_at timestamptz NOT NULL,
        disabled_at timestamptz,
        CONSTRAINT ${CONSTRAINTS.clientId} UNIQUE (client_id)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ['api_clients', 'audit_events', 'database_name_claims', 'jobs', 'instances']) {
      await q.query(`DROP TABLE ${table}`);
    }
  }
}
