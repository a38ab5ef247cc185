import { Column, Entity, PrimaryColumn } from 'typeorm';
import { FLAG, TEXT, uuidColumn } from './portable-columns';

/** A bigint column as a number (database sizes stay far below 2^53). */
const bigintNumber = {
  to: (value: unknown) => value,
  from: (value: string | number | null) => (value === null ? null : Number(value)),
};

/**
 * One database on the ODS server as the last inventory run saw it (docs/inventory.md). Each run
 * replaces every row at once, so a database gone from the server is gone from the table.
 */
@Entity({ name: 'inventory_databases' })
export class InventoryDatabaseEntity {
  @PrimaryColumn({ name: 'database_name', type: TEXT, length: 128 }) databaseName: string;
  @Column({ name: 'observed_at', type: Date }) observedAt: Date;
  @Column({ name: 'size_bytes', type: 'bigint', nullable: true, transformer: bigintNumber }) sizeBytes: number | null;
  @Column({ type: TEXT, length: 32 }) state: string;
  @Column({ type: 'int', nullable: true }) connections: number | null;
  @Column({ name: 'allows_connections', type: FLAG }) allowsConnections: boolean;
  /** The instance named by this manager's ownership marker on the database, or null. */
  @Column({ name: 'marker_instance_id', type: 'uuid', nullable: true, transformer: uuidColumn })
  markerInstanceId: string | null;
  @Column({ name: 'ods_version', type: TEXT, length: 64, nullable: true }) odsVersion: string | null;
  @Column({ name: 'standard_version', type: TEXT, length: 64, nullable: true }) standardVersion: string | null;
}

/** One inventory run: started, and finished with the number of databases seen or an error. */
@Entity({ name: 'inventory_runs' })
export class InventoryRunEntity {
  @PrimaryColumn({ type: 'uuid', transformer: uuidColumn }) id: string;
  @Column({ name: 'started_at', type: Date }) startedAt: Date;
  @Column({ name: 'finished_at', type: Date, nullable: true }) finishedAt: Date | null;
  @Column({ name: 'worker_id', type: TEXT, length: 200 }) workerId: string;
  @Column({ name: 'database_count', type: 'int', nullable: true }) databaseCount: number | null;
  @Column({ type: TEXT, length: 2000, nullable: true }) error: string | null;
}
