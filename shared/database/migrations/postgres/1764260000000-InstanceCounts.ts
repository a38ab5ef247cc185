import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * How many instances each tenant has in each status, kept by statement triggers on `instances` in
 * the same transaction as every change, whoever makes it (the API, a worker, the reconciler, an
 * operator's SQL): the list's Total-Count reads a few rows here instead of counting the table
 * (docs/benchmarks.md, "Listing at scale").
 *
 * A statement adds +1 per new row and -1 per old row to its (tenant, status); an update that
 * changes neither cancels out and writes nothing. Each transaction writes one of
 * SHARDS rows per (tenant, status), chosen by its transaction id, so concurrent
 * creates do not all wait on one row lock until they commit; a reader sums the shards. The rows
 * of one statement are written in (tenant, status) order, so two single-statement transactions
 * on the same shard always lock in the same order.
 *
 * The counts start from the rows already there: the trigger is created first, under a lock that
 * holds writers off until this migration commits, then the backfill counts what exists.
 */
/** Rows per (tenant, status): how many creates may add to one count without waiting on each other. */
const SHARDS = 8;

export class InstanceCounts1764260000000 implements MigrationInterface {
  name = 'InstanceCounts1764260000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE instance_counts (
        tenant varchar(64) NOT NULL,
        status varchar(32) NOT NULL,
        shard smallint NOT NULL,
        n bigint NOT NULL,
        CONSTRAINT pk_instance_counts PRIMARY KEY (tenant, status, shard)
      )`);
    await q.query(`LOCK TABLE instances IN SHARE ROW EXCLUSIVE MODE`);
    // Transition tables need one trigger per event, and a statement may name only the tables its
    // event has: one branch per event, each adding its rows' signs.
    const add = (rows: string) => `
      INSERT INTO instance_counts AS c (tenant, status, shard, n)
      SELECT d.tenant, d.status, txid_current() % ${SHARDS}, SUM(d.n)
      FROM (${rows}) d
      GROUP BY d.tenant, d.status
      HAVING SUM(d.n) <> 0
      ORDER BY d.tenant, d.status
      ON CONFLICT (tenant, status, shard) DO UPDATE SET n = c.n + EXCLUDED.n;`;
    const plus = 'SELECT tenant, status, 1 AS n FROM counted_new';
    const minus = 'SELECT tenant, status, -1 AS n FROM counted_old';
    await q.query(`
      CREATE FUNCTION odsim_count_instances() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'INSERT' THEN ${add(plus)}
        ELSIF TG_OP = 'UPDATE' THEN ${add(`${plus} UNION ALL ${minus}`)}
        ELSE ${add(minus)}
        END IF;
        RETURN NULL;
      END $$`);
    await q.query(
      `CREATE TRIGGER tr_instances_count_insert AFTER INSERT ON instances REFERENCING NEW TABLE AS counted_new FOR EACH STATEMENT EXECUTE PROCEDURE odsim_count_instances()`,
    );
    await q.query(
      `CREATE TRIGGER tr_instances_count_update AFTER UPDATE ON instances REFERENCING OLD TABLE AS counted_old NEW TABLE AS counted_new FOR EACH STATEMENT EXECUTE PROCEDURE odsim_count_instances()`,
    );
    await q.query(
      `CREATE TRIGGER tr_instances_count_delete AFTER DELETE ON instances REFERENCING OLD TABLE AS counted_old FOR EACH STATEMENT EXECUTE PROCEDURE odsim_count_instances()`,
    );
    await q.query(`
      INSERT INTO instance_counts (tenant, status, shard, n)
      SELECT tenant, status, 0, COUNT(*) FROM instances GROUP BY tenant, status`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER tr_instances_count_delete ON instances`);
    await q.query(`DROP TRIGGER tr_instances_count_update ON instances`);
    await q.query(`DROP TRIGGER tr_instances_count_insert ON instances`);
    await q.query(`DROP FUNCTION odsim_count_instances()`);
    await q.query(`DROP TABLE instance_counts`);
  }
}
