import { randomUUID } from 'node:crypto';
import { MigrationInterface, QueryRunner } from 'typeorm';

/** The PostgreSQL Deployment1764150000000 on SQL Server: one row naming this deployment. */
export class Deployment1764150000000 implements MigrationInterface {
  name = 'Deployment1764150000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE deployment (
        id uniqueidentifier NOT NULL CONSTRAINT pk_deployment PRIMARY KEY,
        singleton bit NOT NULL CONSTRAINT df_deployment_singleton DEFAULT 1
          CONSTRAINT ck_deployment_singleton CHECK (singleton = 1),
        created_at datetime2(3) NOT NULL,
        CONSTRAINT uq_deployment_singleton UNIQUE (singleton)
      )`);
    // Generated here, as on PostgreSQL, so both dialects make the id the same way (lower case).
    await q.query(`INSERT INTO deployment (id, created_at) VALUES (@0, SYSUTCDATETIME())`, [randomUUID()]);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE deployment`);
  }
}
