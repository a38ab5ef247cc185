import { PermanentJobError } from '../../shared/errors';

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
