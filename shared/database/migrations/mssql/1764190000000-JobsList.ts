import { MigrationInterface, QueryRunner } from 'typeorm';

/** The PostgreSQL JobsList1764190000000 on SQL Server. */
export class JobsList1764190000000 implements MigrationInterface {
  name = 'JobsList1764190000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX ix_jobs_created_at ON jobs (created_at, id)`);
    await q.query(`CREATE INDEX ix_jobs_status_created_at ON jobs (status, created_at, id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX ix_jobs_status_created_at ON jobs`);
    await q.query(`DROP INDEX ix_jobs_created_at ON jobs`);
  }
}
