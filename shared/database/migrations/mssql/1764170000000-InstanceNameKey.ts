import { MigrationInterface, QueryRunner } from 'typeorm';
import { REMOVED_STATUS, sqlList, UNFINISHED_JOB_STATUSES } from '../../../instances/status';
import { CONSTRAINTS } from '../../constraints';
import { instanceNameKey } from '../../../instances/instance-name';
import { EXACT } from './collation';

/** The PostgreSQL InstanceNameKey1764170000000 on SQL Server: names unique on their folded key. */
export class InstanceNameKey1764170000000 implements MigrationInterface {
  name = 'InstanceNameKey1764170000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE instances ADD instance_name_key nvarchar(400) ${EXACT} NULL`);
    const rows = (await q.query(`SELECT id, instance_name, status FROM instances ORDER BY created_at, id`)) as {
      id: string;
      instance_name: string;
      status: string;
    }[];
    const taken = new Set<string>();
    for (const row of rows) {
      let key = instanceNameKey(row.instance_name);
      if (row.status !== REMOVED_STATUS) {
        if (taken.has(key)) key = `${key} #${row.id.toLowerCase()}`;
        taken.add(key);
      }
      await q.query(`UPDATE instances SET instance_name_key = @0 WHERE id = @1`, [key, row.id]);
    }
    await q.query(`ALTER TABLE instances ALTER COLUMN instance_name_key nvarchar(400) ${EXACT} NOT NULL`);
    await q.query(`DROP INDEX ${CONSTRAINTS.activeInstanceName} ON instances`);
    await q.query(
      `CREATE UNIQUE INDEX ${CONSTRAINTS.activeInstanceName} ON instances (instance_name_key) WHERE status <> '${REMOVED_STATUS}'`,
    );
    await q.query(
      `CREATE INDEX ix_jobs_unfinished_by_client ON jobs (requested_by) WHERE status IN (${sqlList(UNFINISHED_JOB_STATUSES)})`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX ix_jobs_unfinished_by_client ON jobs`);
    await q.query(`DROP INDEX ${CONSTRAINTS.activeInstanceName} ON instances`);
    await q.query(
      `CREATE UNIQUE INDEX ${CONSTRAINTS.activeInstanceName} ON instances (instance_name) WHERE status <> '${REMOVED_STATUS}'`,
    );
    await q.query(`ALTER TABLE instances DROP COLUMN instance_name_key`);
  }
}
