import type { JobEntity } from '../../shared/database/entities';

export interface JobView {
  id: string;
  instanceId: string;
  type: string;
  status: string;
  attempts: number;
  sourceDatabaseName: string | null;
  targetDatabaseName: string | null;
  error: string | null;
  /** What the job found worth saying without failing; empty for most jobs. */
  warnings: string[];
  requestId: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  _links: { self: { href: string }; instance: { href: string } };
}

export const instancePath = (id: string) => `/admin/instances/${id}`;
export const jobPath = (id: string) => `/admin/jobs/${id}`;

export function jobView(job: JobEntity): JobView {
  return {
    id: job.id,
    instanceId: job.instanceId,
    type: job.type,
    status: job.status,
    attempts: job.attempts,
    sourceDatabaseName: job.sourceDatabaseName,
    targetDatabaseName: job.targetDatabaseName,
    error: job.error,
    warnings: job.warnings ?? [],
    requestId: job.requestId,
    createdAt: job.createdAt.toISOString(),
    startedAt: job.startedAt?.toISOString() ?? null,
    finishedAt: job.finishedAt?.toISOString() ?? null,
    _links: { self: { href: jobPath(job.id) }, instance: { href: instancePath(job.instanceId) } },
  };
}

