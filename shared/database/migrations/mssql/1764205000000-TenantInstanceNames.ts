import { MigrationInterface, QueryRunner } from 'typeorm';
import { REMOVED_STATUS } from '../../../instances/status';
import { CONSTRAINTS } from '../../constraints';

/** The PostgreSQL TenantInstanceNames1764205000000 on SQL Server: instance names unique per tenant. */
export class TenantInstanceNames1764205000000 implements MigrationInterface {
  name = 'TenantInstanceNames1764205000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX ${CONSTRAINTS.activeInstanceName} ON instances`);
    await q.query(
      `CREATE UNIQUE INDEX ${CONSTRAINTS.activeInstanceName} ON instances (tenant, instance_name_key) WHERE status <> '${REMOVED_STATUS}'`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX ${CONSTRAINTS.activeInstanceName} ON instances`);
    await q.query(
      `CREATE UNIQUE INDEX ${CONSTRAINTS.activeInstanceName} ON instances (instance_name_key) WHERE status <> '${REMOVED_STATUS}'`,
    );
  }
}
