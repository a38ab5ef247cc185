import { PermanentJobError } from '../../shared/errors';
import type { AdoptRequest, OperationResult, ReleaseRequest, ServerInspector } from './engine';

/**
 * The never-clobber rules every engine applies the same way, in the same words: a database is
 * touched only when it carries this instance's marker, and a missing one is never looked for
 * by guessing.
 */

/**
 * Refuses, permanently, to act on a database that is not this instance's. `unmanaged` says why
 * a database carries no marker we can see (SQL Server cannot read one of a database that is
 * not ONLINE); `suffix` adds what did not happen (the command engine's script was not run).
 */
export function assertOwned(
  db: { name: string; ownerInstanceId: string | null },
  instanceId: string,
  action: string,
  options: { unmanaged?: string; suffix?: string } = {},
): void {
  if (db.ownerInstanceId === instanceId) return;
  const whose = db.ownerInstanceId
    ? `belongs to instance ${db.ownerInstanceId}`
    : (options.unmanaged ?? 'is not managed by ODS Instance Manager');
  throw new PermanentJobError(
    `refusing to ${action} database "${db.name}": it ${whose}; it was left untouched${options.suffix ?? ''}`,
  );
}

/**
 * A drop that found its database gone (our own earlier run, or someone's hand): a database
 * carrying this instance's marker under another name was most likely renamed by hand, and
 * dropping it on a guess could lose data, so each becomes a warning instead.
 */
export function markedElsewhereWarnings(databaseName: string, instanceId: string, elsewhere: string[]): string[] {
  return elsewhere.map(
    (name) =>
      `database "${databaseName}" was not found, but database "${name}" carries the ownership marker of instance ${instanceId} (renamed by hand?); it was left untouched`,
  );
}

type MarkerAccess = Pick<ServerInspector, 'describe' | 'markOwner' | 'clearOwner' | 'assertWritable'>;

/**
 * Adopts an existing database for every engine the same way: it must exist and carry no other
 * instance's marker; one carrying this instance's (a repeated run) is already adopted. Nothing
 * is copied or dropped. The caller has refused system, reserved and staging names.
 */
export async function adoptDatabase(
  server: MarkerAccess,
  req: AdoptRequest,
  step: (name: string) => Promise<void> = () => Promise.resolve(),
): Promise<OperationResult> {
  const existing = await server.describe(req.databaseName);
  if (!existing)
    throw new PermanentJobError(`database "${req.databaseName}" does not exist; there is nothing to adopt`);
  if (existing.ownerInstanceId !== null && existing.ownerInstanceId !== req.instanceId)
    assertOwned(existing, req.instanceId, 'adopt');
  if (!existing.valid)
    throw new PermanentJobError(
      `database "${req.databaseName}" is not usable (invalid or offline); it was left untouched`,
    );
  if (existing.ownerInstanceId === req.instanceId) {
    await server.assertWritable(req.databaseName);
    return { outcome: 'already-adopted', warnings: [] };
  }
  await step('adopt.before-mark');
  await server.markOwner(req.databaseName, req.instanceId);
  await step('adopt.marked');
  await server.assertWritable(req.databaseName);
  return { outcome: 'adopted', warnings: [] };
}

/**
 * Releases a database for every engine the same way: this instance's marker is removed and the
 * database kept. A missing database has nothing to release; one without a marker was released
 * already (an earlier run); another instance's is never touched (the job fails), unless this
 * instance never owned one (a failed create), when it is left alone and the release succeeds.
 */
export async function releaseDatabase(
  server: MarkerAccess,
  req: ReleaseRequest,
  step: (name: string) => Promise<void> = () => Promise.resolve(),
): Promise<OperationResult> {
  const existing = await server.describe(req.databaseName);
  if (!existing) return { outcome: 'already-absent', warnings: [] };
  if (existing.ownerInstanceId !== req.instanceId) {
    if (req.ownsNothing) return { outcome: 'left-unmanaged', warnings: [] };
    if (existing.ownerInstanceId === null && existing.valid) return { outcome: 'already-released', warnings: [] };
    assertOwned(existing, req.instanceId, 'release');
  }
  await step('release.before-unmark');
  await server.clearOwner(req.databaseName);
  await step('release.unmarked');
  return { outcome: 'released', warnings: [] };
}
