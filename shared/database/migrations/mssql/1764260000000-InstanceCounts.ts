import type { MigrationInterface, QueryRunner } from 'typeorm';
import { EXACT } from './collation';

/** Rows per (tenant, status): how many creates may add to one count without waiting on each other. */
const SHARDS = 8;

/**
 * The PostgreSQL InstanceCounts1764260000000 on SQL Server: the instance counts per (tenant,
 * status), kept by a trigger for each of insert, update and delete in the same transaction as each
 * change (+1 for each row of `inserted`, -1 for each of `deleted`; an update that changes neither
 * tenant nor status cancels out). The shard is the transaction's id modulo SHARDS. MERGE runs
 * WITH (HOLDLOCK) so two transactions that both find no row for a (tenant, status, shard) do not
 * both insert it. SET NOCOUNT ON keeps the row counts TypeORM reads from an update.
 *
 * The trigger is created first; the backfill then reads the table under an exclusive table lock
 * held until the migration commits, so no write falls between the count and the trigger.
 */
export class InstanceCounts1764260000000 implements MigrationInterface {
  name = 'InstanceCounts1764260000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE instance_counts (
        tenant nvarchar(64) ${EXACT} NOT NULL,
        status nvarchar(32) ${EXACT} NOT NULL,
        shard smallint NOT NULL,
        n bigint NOT NULL,
        CONSTRAINT pk_instance_counts PRIMARY KEY (tenant, status, shard)
      )`);
    // One trigger per event, named as PostgreSQL's (which needs one per event for its transition tables).
    for (const event of ['INSERT', 'UPDATE', 'DELETE'])
      await q.query(`
      CREATE TRIGGER tr_instances_count_${event.toLowerCase()} ON instances AFTER ${event} AS
      BEGIN
        SET NOCOUNT ON;
        DECLARE @shard smallint = CAST(CURRENT_TRANSACTION_ID() % ${SHARDS} AS smallint);
        MERGE instance_counts WITH (HOLDLOCK) AS c
        USING (
          SELECT d.tenant, d.status, SUM(d.n) AS n
          FROM (
            SELECT tenant ${EXACT} AS tenant, status ${EXACT} AS status, 1 AS n FROM inserted
            UNION ALL
            SELECT tenant ${EXACT} AS tenant, status ${EXACT} AS status, -1 AS n FROM deleted
          ) d
          GROUP BY d.tenant, d.status
          HAVING SUM(d.n) <> 0
        ) AS d
        ON c.tenant = d.tenant AND c.status = d.status AND c.shard = @shard
        WHEN MATCHED THEN UPDATE SET n = c.n + d.n
        WHEN NOT MATCHED THEN INSERT (tenant, status, shard, n) VALUES (d.tenant, d.status, @shard, d.n);
      END`);
    await q.query(`
      INSERT INTO instance_counts (tenant, status, shard, n)
      SELECT tenant, status, 0, COUNT_BIG(*) FROM instances WITH (TABLOCKX, HOLDLOCK) GROUP BY tenant, status`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const event of ['delete', 'update', 'insert']) await q.query(`DROP TRIGGER tr_instances_count_${event}`);
    await q.query(`DROP TABLE instance_counts`);
  }
}
