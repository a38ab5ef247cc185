import { MigrationInterface, QueryRunner } from 'typeorm';

/** What a job found worth telling an operator without failing it (a JSON array of strings). */
export class JobWarnings1764160000000 implements MigrationInterface {
  name = 'JobWarnings1764160000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE jobs ADD COLUMN warnings varchar(2000) NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE jobs DROP COLUMN warnings`);
  }
}
