import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A create may copy another instance's database (docs/copy.md): the job records which instance it
 * copies and whether it may shut that instance's database to sessions, and when it did (until it reopened it); the instance records
 * what it is a copy of. The index answers "is this instance being copied?" for rename and delete.
 */
export class CopySource1764230000000 implements MigrationInterface {
  name = 'CopySource1764230000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE jobs ADD COLUMN source_instance_id uuid NULL`);
    await q.query(`ALTER TABLE jobs ADD COLUMN disconnect_source boolean NOT NULL DEFAULT false`);
    await q.query(`ALTER TABLE jobs ADD COLUMN source_closed_at timestamptz NULL`);
    await q.query(`ALTER TABLE instances ADD COLUMN source_instance_id uuid NULL`);
    await q.query(
      `CREATE INDEX ix_jobs_source_instance ON jobs (source_instance_id) WHERE source_instance_id IS NOT NULL`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX ix_jobs_source_instance`);
    await q.query(`ALTER TABLE instances DROP COLUMN source_instance_id`);
    await q.query(`ALTER TABLE jobs DROP COLUMN disconnect_source`);
    await q.query(`ALTER TABLE jobs DROP COLUMN source_closed_at`);
    await q.query(`ALTER TABLE jobs DROP COLUMN source_instance_id`);
  }
}
