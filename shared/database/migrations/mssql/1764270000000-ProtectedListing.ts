import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The PostgreSQL ProtectedListing1764270000000 on SQL Server: a filtered index of the protected
 * instances. SQL Server matches a filtered index only to a predicate it can see when it plans, so
 * the list sends `[protected] = 1` as a literal (AdminDialect.booleanLiteral), not as a parameter.
 */
export class ProtectedListing1764270000000 implements MigrationInterface {
  name = 'ProtectedListing1764270000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `CREATE INDEX ix_instances_protected ON instances (tenant, created_at, id) INCLUDE (status) WHERE [protected] = 1`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX ix_instances_protected ON instances`);
  }
}
