import { MigrationInterface, QueryRunner } from 'typeorm';

/** The PostgreSQL CopySource1764230000000 on SQL Server: the flag as a bit, the same filtered index. */
export class CopySource1764230000000 implements MigrationInterface {
  name = 'CopySource1764230000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE jobs ADD source_instance_id uniqueidentifier NULL`);
    await q.query(`ALTER TABLE jobs ADD disconnect_source bit NOT NULL CONSTRAINT df_jobs_disconnect_source DEFAULT 0`);
    await q.query(`ALTER TABLE jobs ADD source_closed_at datetime2(3) NULL`);
    await q.query(`ALTER TABLE instances ADD source_instance_id uniqueidentifier NULL`);
    await q.query(
      `CREATE INDEX ix_jobs_source_instance ON jobs (source_instance_id) WHERE source_instance_id IS NOT NULL`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX ix_jobs_source_instance ON jobs`);
    await q.query(`ALTER TABLE instances DROP COLUMN source_instance_id`);
    await q.query(`ALTER TABLE jobs DROP CONSTRAINT df_jobs_disconnect_source`);
    await q.query(`ALTER TABLE jobs DROP COLUMN disconnect_source`);
    await q.query(`ALTER TABLE jobs DROP COLUMN source_closed_at`);
    await q.query(`ALTER TABLE jobs DROP COLUMN source_instance_id`);
  }
}
