import { Column, Entity, PrimaryColumn } from 'typeorm';
import { TEXT, uuidColumn } from './portable-columns';

export type AuditOutcome = 'accepted' | 'rejected' | 'succeeded' | 'failed';

/** Who asked for what, when, under which request id, and how it ended. Append-only. */
@Entity({ name: 'audit_events' })
export class AuditEventEntity {
  @PrimaryColumn({ type: 'uuid', transformer: uuidColumn }) id: string;
  @Column({ name: 'occurred_at', type: Date }) occurredAt: Date;
  @Column({ type: TEXT, length: 128 }) actor: string;
  @Column({ type: TEXT, length: 64 }) action: string;
  @Column({ type: TEXT, length: 16 }) outcome: AuditOutcome;
  @Column({ name: 'instance_id', type: 'uuid', transformer: uuidColumn, nullable: true }) instanceId: string | null;
  @Column({ name: 'job_id', type: 'uuid', transformer: uuidColumn, nullable: true }) jobId: string | null;
  @Column({ name: 'request_id', type: TEXT, length: 64, nullable: true }) requestId: string | null;
  @Column({ type: TEXT, length: 2000, nullable: true }) details: string | null;
}
