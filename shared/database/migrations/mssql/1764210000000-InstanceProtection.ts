import { MigrationInterface, QueryRunner } from 'typeorm';

/** The PostgreSQL InstanceProtection1764210000000 on SQL Server: the flag as a bit. */
export class InstanceProtection1764210000000 implements MigrationInterface {
  name = 'InstanceProtection1764210000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE instances ADD [protected] bit NOT NULL CONSTRAINT df_instances_protected DEFAULT 0`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE instances DROP CONSTRAINT df_instances_protected`);
    await q.query(`ALTER TABLE instances DROP COLUMN [protected]`);
  }
}
