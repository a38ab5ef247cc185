import type { MigrationInterface, QueryRunner } from 'typeorm';
import { EXACT } from './collation';

/**
 * The PostgreSQL Events1764180000000 on SQL Server: the same change log, written by triggers in the
 * same transaction as each change. SQL Server has no NOTIFY; API replicas poll the log
 * (EVENTS_POLL_MS). The triggers SET NOCOUNT ON so their inserts never change the row counts
 * TypeORM reads from an update.
 */
export class Events1764180000000 implements MigrationInterface {
  name = 'Events1764180000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE events (
        id bigint IDENTITY(1, 1) NOT NULL CONSTRAINT pk_events PRIMARY KEY,
        occurred_at datetime2(3) NOT NULL CONSTRAINT df_events_occurred_at DEFAULT SYSUTCDATETIME(),
        kind nvarchar(16) NOT NULL,
        instance_id uniqueidentifier NOT NULL,
        job_id uniqueidentifier NULL,
        status nvarchar(32) NOT NULL
      )`);
    await q.query(`CREATE INDEX ix_events_occurred_at ON events (occurred_at)`);
    // The compared columns are NOT NULL, so <> is PostgreSQL's IS DISTINCT FROM; compared exactly,
    // so a rename that only changes letter case is an event too.
    await q.query(`
      CREATE TRIGGER tr_instances_events ON instances AFTER INSERT, UPDATE AS
      BEGIN
        SET NOCOUNT ON;
        INSERT INTO events (kind, instance_id, status)
        SELECT 'instance', i.id, i.status
        FROM inserted i LEFT JOIN deleted d ON d.id = i.id
        WHERE d.id IS NULL
           OR i.status <> d.status ${EXACT}
           OR i.instance_name <> d.instance_name ${EXACT}
           OR i.database_name <> d.database_name ${EXACT};
      END`);
    await q.query(`
      CREATE TRIGGER tr_jobs_events ON jobs AFTER INSERT, UPDATE AS
      BEGIN
        SET NOCOUNT ON;
        INSERT INTO events (kind, instance_id, job_id, status)
        SELECT 'job', i.instance_id, i.id, i.status
        FROM inserted i LEFT JOIN deleted d ON d.id = i.id
        WHERE d.id IS NULL OR i.status <> d.status ${EXACT} OR i.attempts <> d.attempts;
      END`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER tr_jobs_events`);
    await q.query(`DROP TRIGGER tr_instances_events`);
    await q.query(`DROP TABLE events`);
  }
}
