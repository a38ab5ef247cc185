import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `GET /admin/instances?protected=true` (docs/benchmarks.md, "Listing at scale"): protected
 * instances are few, and no other index finds them, so the list read the whole table for its page
 * and its count. A partial index on (tenant, created_at, id) of the protected rows alone, including
 * status, answers both from the index, in order, for either direction and after a cursor.
 */
export class ProtectedListing1764270000000 implements MigrationInterface {
  name = 'ProtectedListing1764270000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `CREATE INDEX ix_instances_protected ON instances (tenant, created_at, id) INCLUDE (status) WHERE protected`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX ix_instances_protected`);
  }
}
