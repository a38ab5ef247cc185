import { MigrationInterface, QueryRunner } from 'typeorm';

/** The PostgreSQL InstanceTemplate1764215000000 on SQL Server. */
export class InstanceTemplate1764215000000 implements MigrationInterface {
  name = 'InstanceTemplate1764215000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE instances ADD [template] nvarchar(40) NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE instances DROP COLUMN [template]`);
  }
}
