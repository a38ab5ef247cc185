import { MigrationInterface, QueryRunner } from 'typeorm';

/** The template an instance was created from (ODS_TEMPLATES' name; null before templates, or when not a template copy). */
export class InstanceTemplate1764215000000 implements MigrationInterface {
  name = 'InstanceTemplate1764215000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE instances ADD COLUMN template varchar(40)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE instances DROP COLUMN template`);
  }
}
