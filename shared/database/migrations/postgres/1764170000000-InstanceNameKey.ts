import { MigrationInterface, QueryRunner } from 'typeorm';
import { REMOVED_STATUS, sqlList, UNFINISHED_JOB_STATUSES } from '../../../instances/status';
import { CONSTRAINTS } from '../../constraints';
import { instanceNameKey } from '../../../instances/instance-name';

/**
 * Instance names are unique on their folded form (shared/instances/instance-name.ts), so that
 * names which only look different (case, fullwidth letters, Cyrillic look-alikes, no-break
 * spaces) are one name. Also indexes each client's unfinished jobs, which the write quota counts.
 */
export class InstanceNameKey1764170000000 implements MigrationInterface {
  name = 'InstanceNameKey1764170000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE instances ADD COLUMN instance_name_key varchar(400)`);
    // The fold is defined in TypeScript (PostgreSQL before 13 has no normalize()), so the
    // existing rows are keyed here. Live names that now fold together keep distinct keys
    // (the later ones suffixed with their id) rather than failing the upgrade.
    const rows = (await q.query(`SELECT id, instance_name, status FROM instances ORDER BY created_at, id`)) as {
      id: string;
      instance_name: string;
      status: string;
    }[];
    const taken = new Set<string>();
    for (const row of rows) {
      let key = instanceNameKey(row.instance_name);
      if (row.status !== REMOVED_STATUS) {
        if (taken.has(key)) key = `${key} #${row.id}`;
        taken.add(key);
      }
      await q.query(`UPDATE instances SET instance_name_key = $1 WHERE id = $2`, [key, row.id]);
    }
    await q.query(`ALTER TABLE instances ALTER COLUMN instance_name_key SET NOT NULL`);
    await q.query(`DROP INDEX ${CONSTRAINTS.activeInstanceName}`);
    await q.query(
      `CREATE UNIQUE INDEX ${CONSTRAINTS.activeInstanceName} ON instances (instance_name_key) WHERE status <> '${REMOVED_STATUS}'`,
    );
    await q.query(
      `CREATE INDEX ix_jobs_unfinished_by_client ON jobs (requested_by) WHERE status IN (${sqlList(UNFINISHED_JOB_STATUSES)})`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX ix_jobs_unfinished_by_client`);
    await q.query(`DROP INDEX ${CONSTRAINTS.activeInstanceName}`);
    await q.query(
      `CREATE UNIQUE INDEX ${CONSTRAINTS.activeInstanceName} ON instances (lower(instance_name)) WHERE status <> '${REMOVED_STATUS}'`,
    );
    await q.query(`ALTER TABLE instances DROP COLUMN instance_name_key`);
  }
}
