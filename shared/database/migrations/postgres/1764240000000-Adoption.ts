import { MigrationInterface, QueryRunner } from 'typeorm';
import { GONE_STATUSES, REMOVED_STATUS, sqlList } from '../../../instances/status';
import { CONSTRAINTS } from '../../constraints';

/**
 * Adopted instances and releases (docs/adopt-release.md): the instance's and the job's flags,
 * and the unique indexes of live instances (names, context sets), which now leave out
 * `Released` as they leave out `Deleted`.
 */
export class Adoption1764240000000 implements MigrationInterface {
  name = 'Adoption1764240000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE instances ADD COLUMN adopted boolean NOT NULL DEFAULT false`);
    await q.query(`ALTER TABLE jobs ADD COLUMN adopt boolean NOT NULL DEFAULT false`);
    await this.liveIndexes(q, sqlList(GONE_STATUSES));
  }

  async down(q: QueryRunner): Promise<void> {
    // Fails, as it should, while a released instance's name is taken again by a live one.
    await this.liveIndexes(q, sqlList([REMOVED_STATUS]));
    await q.query(`ALTER TABLE jobs DROP COLUMN adopt`);
    await q.query(`ALTER TABLE instances DROP COLUMN adopted`);
  }

  private async liveIndexes(q: QueryRunner, gone: string): Promise<void> {
    await q.query(`DROP INDEX ${CONSTRAINTS.activeInstanceName}`);
    await q.query(
      `CREATE UNIQUE INDEX ${CONSTRAINTS.activeInstanceName} ON instances (tenant, instance_name_key) WHERE status NOT IN (${gone})`,
    );
    await q.query(`DROP INDEX ${CONSTRAINTS.contextSet}`);
    await q.query(
      `CREATE UNIQUE INDEX ${CONSTRAINTS.contextSet} ON instances (tenant, context_set_key)
       WHERE context_set_key IS NOT NULL AND status NOT IN (${gone})`,
    );
  }
}
