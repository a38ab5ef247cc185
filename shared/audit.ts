import { randomUUID } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import { AuditEventEntity, AuditOutcome } from './database/entities/audit-event.entity';

export interface AuditEvent {
  actor: string;
  action: string;
  outcome: AuditOutcome;
  instanceId?: string | null;
  jobId?: string | null;
  requestId?: string | null;
  /** The caller's own request id, if it sent a safe one; kept in the details beside ours. */
  clientRequestId?: string;
  details?: Record<string, unknown>;
}

/** Appends one audit row inside the caller's transaction, so it stands or falls with the change. */
export async function recordAudit(manager: EntityManager, event: AuditEvent): Promise<void> {
  await manager.insert(AuditEventEntity, auditRow(event));
}

/** The audit row of `event`, stamped now with a new id. */
export function auditRow(event: AuditEvent): AuditEventEntity {
  return {
    id: randomUUID(),
    occurredAt: new Date(),
    actor: event.actor,
    action: event.action,
    outcome: event.outcome,
    instanceId: event.instanceId ?? null,
    jobId: event.jobId ?? null,
    requestId: event.requestId ?? null,
    details:
      event.details || event.clientRequestId
        ? JSON.stringify({
            ...event.details,
            ...(event.clientRequestId ? { clientRequestId: event.clientRequestId } : {}),
          }).slice(0, 2000)
        : null,
  };
}
