import type { JobEntity } from '../../shared/database/entities';
import { instancePath, jobPath } from '../http/resources';

/**
 * How much of a failure a caller sees: full-access clients get the server's own words (they
 * are the operators who fix it); read-only clients get a summary, since raw server errors can
 * name hosts, roles and databases.
 */
export type ErrorDetail = 'full' | 'summary';

export function visibleError(error: string | null, operation: string, detail: ErrorDetail): string | null {
  if (error === null || detail === 'full') return error;
  return `The ${operation} failed. The details are shown to clients with full access.`;
}

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
  /** A delete that may remove the EdFi_Admin links that would block it (`?force=true`). */
  force: boolean;
  /** A create that copies this instance's database (docs/copy.md), and whether it may end the source's sessions. */
  sourceInstanceId: string | null;
  disconnectSource: boolean;
  /** A create that adopts an existing database (docs/adopt-release.md). */
  adopt: boolean;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  _links: { self: { href: string }; instance: { href: string } };
}

export function jobView(job: JobEntity, detail: ErrorDetail): JobView {
  return {
    id: job.id,
    instanceId: job.instanceId,
    type: job.type,
    status: job.status,
    attempts: job.attempts,
    sourceDatabaseName: job.sourceDatabaseName,
    targetDatabaseName: job.targetDatabaseName,
    error: visibleError(job.error, job.type, detail),
    warnings: job.warnings ?? [],
    requestId: job.requestId,
    force: job.force,
    sourceInstanceId: job.sourceInstanceId ?? null,
    disconnectSource: job.disconnectSource ?? false,
    adopt: job.adopt,
    createdAt: job.createdAt.toISOString(),
    startedAt: job.startedAt?.toISOString() ?? null,
    finishedAt: job.finishedAt?.toISOString() ?? null,
    _links: { self: { href: jobPath(job.id) }, instance: { href: instancePath(job.instanceId) } },
  };
}
