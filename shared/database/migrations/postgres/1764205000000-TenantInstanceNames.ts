import { MigrationInterface, QueryRunner } from 'typeorm';
import { REMOVED_STATUS } from '../../../instances/status';
import { CONSTRAINTS } from '../../constraints';

/**
 * Instance names are unique per tenant, as dbo.OdsInstances names are unique in each tenant's
 * EdFi_Admin. Database names stay unique across the server (database_name_claims), since
 * tenants share it. Without tenants every instance has tenant '', so nothing changes.
 */
export class TenantInstanceNames1764205000000 implements MigrationInterface {
  name = 'TenantInstanceNames1764205000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX ${CONSTRAINTS.activeInstanceName}`);
    await q.query(
      `CREATE UNIQUE INDEX ${CONSTRAINTS.activeInstanceName} ON instances (tenant, instance_name_key) WHERE status <> '${REMOVED_STATUS}'`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    // Fails, as it should, while two tenants have a live instance of the same name.
    await q.query(`DROP INDEX ${CONSTRAINTS.activeInstanceName}`);
    await q.query(
      `CREATE UNIQUE INDEX ${CONSTRAINTS.activeInstanceName} ON instances (instance_name_key) WHERE status <> '${REMOVED_STATUS}'`,
    );
  }
}
