import { MigrationInterface, QueryRunner } from 'typeorm';

/** The PostgreSQL JobWarnings1764160000000 on SQL Server (a JSON array of strings). */
export class JobWarnings1764160000000 implements MigrationInterface {
  name = 'JobWarnings1764160000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE jobs ADD warnings nvarchar(2000) NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE jobs DROP COLUMN warnings`);
  }
}
