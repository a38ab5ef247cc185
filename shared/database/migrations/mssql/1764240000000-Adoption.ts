import { MigrationInterface, QueryRunner } from 'typeorm';
import { GONE_STATUSES, REMOVED_STATUS, sqlList } from '../../../instances/status';
import { CONSTRAINTS } from '../../constraints';

/** A filtered index takes no NOT IN: one `status <> …` for each gone status, joined by AND. */
function notGone(statuses: readonly string[]): string {
  return statuses.map((s) => `status <> ${sqlList([s])}`).join(' AND ');
}

/** The PostgreSQL Adoption1764240000000 on SQL Server: the flags as bits, the live-instance indexes without `Released`. */
export class Adoption1764240000000 implements MigrationInterface {
  name = 'Adoption1764240000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE instances ADD adopted bit NOT NULL CONSTRAINT df_instances_adopted DEFAULT 0`);
    await q.query(`ALTER TABLE jobs ADD adopt bit NOT NULL CONSTRAINT df_jobs_adopt DEFAULT 0`);
    await this.liveIndexes(q, notGone(GONE_STATUSES));
  }

  async down(q: QueryRunner): Promise<void> {
    await this.liveIndexes(q, notGone([REMOVED_STATUS]));
    await q.query(`ALTER TABLE jobs DROP CONSTRAINT df_jobs_adopt`);
    await q.query(`ALTER TABLE jobs DROP COLUMN adopt`);
    await q.query(`ALTER TABLE instances DROP CONSTRAINT df_instances_adopted`);
    await q.query(`ALTER TABLE instances DROP COLUMN adopted`);
  }

  private async liveIndexes(q: QueryRunner, live: string): Promise<void> {
    await q.query(`DROP INDEX ${CONSTRAINTS.activeInstanceName} ON instances`);
    await q.query(
      `CREATE UNIQUE INDEX ${CONSTRAINTS.activeInstanceName} ON instances (tenant, instance_name_key) WHERE ${live}`,
    );
    await q.query(`DROP INDEX ${CONSTRAINTS.contextSet} ON instances`);
    await q.query(
      `CREATE UNIQUE INDEX ${CONSTRAINTS.contextSet} ON instances (tenant, context_set_key)
       WHERE context_set_key IS NOT NULL AND ${live}`,
    );
  }
}
