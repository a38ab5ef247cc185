import { Column, Entity, PrimaryColumn, ValueTransformer } from 'typeorm';
import { FLAG, TEXT, uuidColumn } from './portable-columns';
import type { InstanceStatus } from '../../instances/status';

/** One ODS/API route context, named as Ed-Fi's Admin API names it. */
export interface OdsInstanceContext {
  contextKey: string;
  contextValue: string;
}

/** A JSON value in a varchar column (NULL stays null). */
const jsonColumn: ValueTransformer = {
  to: (value: unknown) => (value === null || value === undefined ? null : JSON.stringify(value)),
  from: (text: string | null): unknown => (text === null ? null : JSON.parse(text)),
};

/** One ODS/API instance: one database on the ODS server. Kept as `Deleted` or `Released` for history. */
@Entity({ name: 'instances' })
export class InstanceEntity {
  @PrimaryColumn({ type: 'uuid', transformer: uuidColumn }) id: string;
  @Column({ name: 'instance_name', type: TEXT, length: 100 }) instanceName: string;
  /** The folded name on which uniqueness is decided (shared/instances/instance-name.ts). */
  @Column({ name: 'instance_name_key', type: TEXT, length: 400, select: true }) instanceNameKey: string;
  @Column({ name: 'database_name', type: TEXT, length: 128 }) databaseName: string;
  @Column({ name: 'previous_database_name', type: TEXT, length: 128, nullable: true }) previousDatabaseName:
    string | null;
  @Column({ type: TEXT, length: 32 }) status: InstanceStatus;
  @Column({ type: TEXT, length: 16 }) engine: string;
  @Column({ name: 'last_error', type: TEXT, length: 2000, nullable: true }) lastError: string | null;
  @Column({ name: 'created_by', type: TEXT, length: 64 }) createdBy: string;
  @Column({ name: 'created_at', type: Date }) createdAt: Date;
  @Column({ name: 'updated_at', type: Date }) updatedAt: Date;
  @Column({ name: 'deleted_at', type: Date, nullable: true }) deletedAt: Date | null;
  /** The tenant the instance belongs to; '' in a deployment without tenants. */
  @Column({ type: TEXT, length: 64, default: '' }) tenant: string;
  /** dbo.OdsInstances.InstanceType. */
  @Column({ name: 'instance_type', type: TEXT, length: 100, nullable: true }) instanceType: string | null;
  /** The ODS/API route contexts that select this instance (dbo.OdsInstanceContexts). */
  @Column({ type: TEXT, length: 2000, nullable: true, transformer: jsonColumn })
  contexts: OdsInstanceContext[] | null;
  /** Folded, sorted contexts: unique among a tenant's live instances. */
  @Column({ name: 'context_set_key', type: TEXT, length: 1200, nullable: true }) contextSetKey: string | null;
  /** dbo.OdsInstances.OdsInstanceId, once the worker registered the instance in EdFi_Admin. */
  @Column({ name: 'ods_instance_id', type: 'int', nullable: true }) odsInstanceId: number | null;
  /** EdFi_Admin ApiClients.Key values the create links to the instance. */
  @Column({ name: 'api_client_keys', type: TEXT, length: 2000, nullable: true, transformer: jsonColumn })
  apiClientKeys: string[] | null;
  /** Deletes and renames are refused while set (docs/protection.md). */
  @Column({ type: FLAG, default: false }) protected: boolean;
  /** The template (ODS_TEMPLATES' name) the instance was created from; null for older instances. */
  @Column({ type: TEXT, length: 40, nullable: true }) template: string | null;
  /** The instance whose database this one's was copied from ("copy of"), if any. */
  @Column({ name: 'source_instance_id', type: 'uuid', transformer: uuidColumn, nullable: true })
  sourceInstanceId: string | null;
  /** Registered from an existing database rather than copied: a delete releases it unless told to drop (docs/adopt-release.md). */
  @Column({ type: FLAG, default: false }) adopted: boolean;
}
