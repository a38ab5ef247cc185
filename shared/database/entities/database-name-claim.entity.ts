import { Column, Entity, PrimaryColumn } from 'typeorm';
import { TEXT, uuidColumn } from './portable-columns';

/**
 * A database name held by an instance, keyed case-insensitively. The primary key makes the
 * admin database refuse a second holder; a pending rename holds both its old and new name.
 */
@Entity({ name: 'database_name_claims' })
export class DatabaseNameClaimEntity {
  @PrimaryColumn({ name: 'name_key', type: TEXT, length: 128 }) nameKey: string;
  @Column({ name: 'instance_id', type: 'uuid', transformer: uuidColumn }) instanceId: string;
  @Column({ name: 'created_at', type: Date }) createdAt: Date;
}
