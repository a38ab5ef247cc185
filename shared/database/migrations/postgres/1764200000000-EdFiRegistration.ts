import { MigrationInterface, QueryRunner } from 'typeorm';
import { REMOVED_STATUS, sqlList } from '../../../instances/status';

/**
 * What the ODS/API needs to route to an instance (issue 9): its tenant, instance type, route
 * contexts and the EdFi_Admin row the worker wrote; which API clients to link; whether a delete
 * may remove the links that would otherwise block it.
 */
export class EdFiRegistration1764200000000 implements MigrationInterface {
  name = 'EdFiRegistration1764200000000';

  async up(q: QueryRunner): Promise<void> {
    // '' when the deployment has no tenants (a NOT NULL value keeps the unique indexes simple).
    await q.query(`ALTER TABLE instances ADD COLUMN tenant varchar(64) NOT NULL DEFAULT ''`);
    await q.query(`ALTER TABLE instances ADD COLUMN instance_type varchar(100) NULL`);
    // JSON: [{"contextKey": "...", "contextValue": "..."}], as given (normalised) by the client.
    await q.query(`ALTER TABLE instances ADD COLUMN contexts varchar(2000) NULL`);
    // The contexts, folded and sorted: two live instances of a tenant may not share it.
    await q.query(`ALTER TABLE instances ADD COLUMN context_set_key varchar(1200) NULL`);
    // dbo.OdsInstances.OdsInstanceId in the tenant's EdFi_Admin, once the worker registered it.
    await q.query(`ALTER TABLE instances ADD COLUMN ods_instance_id integer NULL`);
    // JSON array of EdFi_Admin ApiClients.Key values to link on create.
    await q.query(`ALTER TABLE instances ADD COLUMN api_client_keys varchar(2000) NULL`);
    await q.query(
      `CREATE UNIQUE INDEX ux_instances_context_set ON instances (tenant, context_set_key)
       WHERE context_set_key IS NOT NULL AND status NOT IN (${sqlList([REMOVED_STATUS])})`,
    );
    await q.query(`ALTER TABLE jobs ADD COLUMN force boolean NOT NULL DEFAULT false`);
    // Comma-separated tenant ids a client may act in; NULL: every tenant.
    await q.query(`ALTER TABLE api_clients ADD COLUMN tenants varchar(1000) NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE api_clients DROP COLUMN tenants`);
    await q.query(`ALTER TABLE jobs DROP COLUMN force`);
    await q.query(`DROP INDEX ux_instances_context_set`);
    for (const column of [
      'api_client_keys',
      'ods_instance_id',
      'context_set_key',
      'contexts',
      'instance_type',
      'tenant',
    ])
      await q.query(`ALTER TABLE instances DROP COLUMN ${column}`);
  }
}
