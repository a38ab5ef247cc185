import { randomUUID } from 'node:crypto';
import type { DataSource, EntityManager } from 'typeorm';
import { AuditEventEntity, AuditOutcome } from './database/entities/audit-event.entity';
import { PreparedInsert } from './database/prepared-insert';

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

/** The audit INSERT, made once per data source (TypeORM's insert() rebuilt it on every call). */
const inserts = new WeakMap<DataSource, PreparedInsert<AuditEventEntity>>();

/** Appends one audit row inside the caller's transaction, so it stands or falls with the change. */
export async function recordAudit(manager: EntityManager, event: AuditEvent): Promise<void> {
  let insert = inserts.get(manager.connection);
  if (!insert) inserts.set(manager.connection, (insert = new PreparedInsert(manager.connection, AuditEventEntity)));
  await insert.insert(manager, auditRow(event));
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
