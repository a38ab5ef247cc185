import { MigrationInterface, QueryRunner } from 'typeorm';
import { REMOVED_STATUS } from '../../../instances/status';
import { CONSTRAINTS } from '../../constraints';
import { EXACT } from './collation';

/**
 * The PostgreSQL EdFiRegistration1764200000000 on SQL Server. A filtered index takes no NOT IN, so
 * "not deleted" is `status <> 'Deleted'`, as the name rule already says it. The context set key
 * is part of an index key, which SQL Server caps at 1,700 bytes: with the tenant, a set key of
 * about 800 characters at most.
 */
export class EdFiRegistration1764200000000 implements MigrationInterface {
  name = 'EdFiRegistration1764200000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `ALTER TABLE instances ADD tenant nvarchar(64) ${EXACT} NOT NULL CONSTRAINT df_instances_tenant DEFAULT N''`,
    );
    await q.query(`ALTER TABLE instances ADD instance_type nvarchar(100) NULL`);
    await q.query(`ALTER TABLE instances ADD contexts nvarchar(2000) NULL`);
    await q.query(`ALTER TABLE instances ADD context_set_key nvarchar(1200) ${EXACT} NULL`);
    await q.query(`ALTER TABLE instances ADD ods_instance_id int NULL`);
    await q.query(`ALTER TABLE instances ADD api_client_keys nvarchar(2000) NULL`);
    await q.query(
      `CREATE UNIQUE INDEX ${CONSTRAINTS.contextSet} ON instances (tenant, context_set_key)
       WHERE context_set_key IS NOT NULL AND status <> '${REMOVED_STATUS}'`,
    );
    await q.query(`ALTER TABLE jobs ADD [force] bit NOT NULL CONSTRAINT df_jobs_force DEFAULT 0`);
    await q.query(`ALTER TABLE api_clients ADD tenants nvarchar(1000) NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE api_clients DROP COLUMN tenants`);
    await q.query(`ALTER TABLE jobs DROP CONSTRAINT df_jobs_force`);
    await q.query(`ALTER TABLE jobs DROP COLUMN [force]`);
    await q.query(`DROP INDEX ${CONSTRAINTS.contextSet} ON instances`);
    await q.query(`ALTER TABLE instances DROP CONSTRAINT df_instances_tenant`);
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
