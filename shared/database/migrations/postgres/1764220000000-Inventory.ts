import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What the worker's inventory saw on the ODS server (docs/inventory.md): one row per database,
 * replaced whole by each run, and the runs themselves (the last ones), so the API can show the
 * facts with their age and flag instances whose database changed by hand (drift).
 */
export class Inventory1764220000000 implements MigrationInterface {
  name = 'Inventory1764220000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE inventory_databases (
        database_name varchar(128) NOT NULL CONSTRAINT pk_inventory_databases PRIMARY KEY,
        observed_at timestamptz NOT NULL,
        size_bytes bigint,
        state varchar(32) NOT NULL,
        connections int,
        allows_connections boolean NOT NULL,
        marker_instance_id uuid,
        ods_version varchar(64),
        standard_version varchar(64)
      )`);
    await q.query(`CREATE INDEX ix_inventory_databases_marker ON inventory_databases (marker_instance_id)`);
    await q.query(`
      CREATE TABLE inventory_runs (
        id uuid NOT NULL CONSTRAINT pk_inventory_runs PRIMARY KEY,
        started_at timestamptz NOT NULL,
        finished_at timestamptz,
        worker_id varchar(200) NOT NULL,
        database_count int,
        error varchar(2000)
      )`);
    await q.query(`CREATE INDEX ix_inventory_runs_started_at ON inventory_runs (started_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE inventory_runs`);
    await q.query(`DROP TABLE inventory_databases`);
  }
}
