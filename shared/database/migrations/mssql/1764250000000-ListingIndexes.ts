import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The PostgreSQL ListingIndexes1764250000000 on SQL Server: the same two b-tree indexes for a
 * page's ids and counts. SQL Server has no trigram index: `ix_instances_name_search` is a plain
 * one on the folded name, covering what a search filters and sorts on, so an `instanceName`
 * search (LIKE '%…%') scans that narrow index rather than the table.
 */
export class ListingIndexes1764250000000 implements MigrationInterface {
  name = 'ListingIndexes1764250000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX ix_instances_tenant_created ON instances (tenant, created_at, id) INCLUDE (status)`);
    await q.query(`CREATE INDEX ix_instances_tenant_status ON instances (tenant, status, created_at, id)`);
    await q.query(`DROP INDEX ix_instances_created_at ON instances`);
    await q.query(
      `CREATE INDEX ix_instances_name_search ON instances (tenant, instance_name_key) INCLUDE (status, created_at)`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX ix_instances_name_search ON instances`);
    await q.query(`CREATE INDEX ix_instances_created_at ON instances (created_at, id)`);
    await q.query(`DROP INDEX ix_instances_tenant_status ON instances`);
    await q.query(`DROP INDEX ix_instances_tenant_created ON instances`);
  }
}
