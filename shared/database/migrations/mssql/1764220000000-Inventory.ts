import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The PostgreSQL Inventory1764220000000 on SQL Server: the same two tables. */
export class Inventory1764220000000 implements MigrationInterface {
  name = 'Inventory1764220000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE inventory_databases (
        database_name nvarchar(128) NOT NULL CONSTRAINT pk_inventory_databases PRIMARY KEY,
        observed_at datetime2(3) NOT NULL,
        size_bytes bigint NULL,
        state nvarchar(32) NOT NULL,
        connections int NULL,
        allows_connections bit NOT NULL,
        marker_instance_id uniqueidentifier NULL,
        ods_version nvarchar(64) NULL,
        standard_version nvarchar(64) NULL
      )`);
    await q.query(`CREATE INDEX ix_inventory_databases_marker ON inventory_databases (marker_instance_id)`);
    await q.query(`
      CREATE TABLE inventory_runs (
        id uniqueidentifier NOT NULL CONSTRAINT pk_inventory_runs PRIMARY KEY,
        started_at datetime2(3) NOT NULL,
        finished_at datetime2(3) NULL,
        worker_id nvarchar(200) NOT NULL,
        database_count int NULL,
        error nvarchar(2000) NULL
      )`);
    await q.query(`CREATE INDEX ix_inventory_runs_started_at ON inventory_runs (started_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE inventory_runs`);
    await q.query(`DROP TABLE inventory_databases`);
  }
}
