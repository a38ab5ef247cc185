import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { InstanceStatus } from '../../instances/status';

/** One ODS/API instance: one database on the ODS server. Kept as `Deleted` for history. */
@Entity({ name: 'instances' })
export class InstanceEntity {
  @PrimaryColumn({ type: 'uuid' }) id: string;
  @Column({ name: 'instance_name', type: 'varchar', length: 100 }) instanceName: string;
  /** The folded name on which uniqueness is decided (shared/instances/instance-name.ts). */
  @Column({ name: 'instance_name_key', type: 'varchar', length: 400, select: true }) instanceNameKey: string;
  @Column({ name: 'database_name', type: 'varchar', length: 128 }) databaseName: string;
  @Column({ name: 'previous_database_name', type: 'varchar', length: 128, nullable: true }) previousDatabaseName:
    string | null;
  @Column({ type: 'varchar', length: 32 }) status: InstanceStatus;
  @Column({ type: 'varchar', length: 16 }) engine: string;
  @Column({ name: 'last_error', type: 'varchar', length: 2000, nullable: true }) lastError: string | null;
  @Column({ name: 'created_by', type: 'varchar', length: 64 }) createdBy: string;
  @Column({ name: 'created_at', type: Date }) createdAt: Date;
  @Column({ name: 'updated_at', type: Date }) updatedAt: Date;
  @Column({ name: 'deleted_at', type: Date, nullable: true }) deletedAt: Date | null;
}
