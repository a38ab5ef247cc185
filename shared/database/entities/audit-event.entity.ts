import { Column, Entity, PrimaryColumn } from 'typeorm';

export type AuditOutcome = 'accepted' | 'rejected' | 'succeeded' | 'failed';

/** Who asked for what, when, under which request id, and how it ended. Append-only. */
@Entity({ name: 'audit_events' })
export class AuditEventEntity {
  @PrimaryColumn({ type: 'uuid' }) id: string;
  @Column({ name: 'occurred_at', type: Date }) occurredAt: Date;
  @Column({ type: 'varchar', length: 128 }) actor: string;
  @Column({ type: 'varchar', length: 64 }) action: string;
  @Column({ type: 'varchar', length: 16 }) outcome: AuditOutcome;
  @Column({ name: 'instance_id', type: 'uuid', nullable: true }) instanceId: string | null;
  @Column({ name: 'job_id', type: 'uuid', nullable: true }) jobId: string | null;
  @Column({ name: 'request_id', type: 'varchar', length: 64, nullable: true }) requestId: string | null;
  @Column({ type: 'varchar', length: 2000, nullable: true }) details: string | null;
}
