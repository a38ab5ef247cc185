import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Indexes for GET /admin/instances at scale (docs/benchmarks.md, "Listing at scale"):
 * - (tenant, created_at, id) including status, in place of (created_at, id): a page's ids, in
 *   order and however far the offset, and the count of live instances, from the index alone;
 * - (tenant, status, created_at, id): a status filter's page and count;
 * - where the pg_trgm extension is installed or may be (it ships with PostgreSQL's contrib and is
 *   trusted from 13, so a database owner may create it), a trigram index on the folded name, which
 *   `instanceName` searches as a substring (LIKE '%…%'). Without it the search reads the table, as
 *   before: same answers, slower on a large table. The attempt is made under a savepoint, so a
 *   server that refuses the extension (an allow-list on a managed service) still migrates.
 */
export class ListingIndexes1764250000000 implements MigrationInterface {
  name = 'ListingIndexes1764250000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX ix_instances_tenant_created ON instances (tenant, created_at, id) INCLUDE (status)`);
    await q.query(`CREATE INDEX ix_instances_tenant_status ON instances (tenant, status, created_at, id)`);
    await q.query(`DROP INDEX ix_instances_created_at`);
    await q.query(`SAVEPOINT name_search`);
    try {
      await q.query(`CREATE EXTENSION IF NOT EXISTS pg_trgm`);
      await q.query(`CREATE INDEX ix_instances_name_search ON instances USING gin (instance_name_key gin_trgm_ops)`);
      await q.query(`RELEASE SAVEPOINT name_search`);
    } catch {
      await q.query(`ROLLBACK TO SAVEPOINT name_search`);
    }
  }

  async down(q: QueryRunner): Promise<void> {
    // The extension stays: something else in the database may use it.
    await q.query(`DROP INDEX IF EXISTS ix_instances_name_search`);
    await q.query(`CREATE INDEX ix_instances_created_at ON instances (created_at, id)`);
    await q.query(`DROP INDEX ix_instances_tenant_status`);
    await q.query(`DROP INDEX ix_instances_tenant_created`);
  }
}
