/**
 * The instance state machine (Ed-Fi Admin API 2.4 vocabulary) and the job statuses.
 * This module is the one place that says which status may follow which.
 */
export const INSTANCE_STATUSES = [
  'PendingCreate',
  'CreateInProgress',
  'Created',
  'CreateFailed',
  'PendingDelete',
  'DeleteInProgress',
  'Deleted',
  'DeleteFailed',
  'PendingRename',
  'RenameInProgress',
  'RenameFailed',
  'PendingRelease',
  'ReleaseInProgress',
  'Released',
  'ReleaseFailed',
] as const;
export type InstanceStatus = (typeof INSTANCE_STATUSES)[number];

export const OPERATIONS = ['create', 'delete', 'rename', 'release'] as const;
export type Operation = (typeof OPERATIONS)[number];

export const JOB_STATUSES = ['queued', 'running', 'succeeded', 'failed'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export const UNFINISHED_JOB_STATUSES: readonly JobStatus[] = ['queued', 'running'];

/** Which of a job's database names (`source`, `target`) a result frees, or `all` the instance holds. */
export type NameRelease = 'none' | 'source' | 'target' | 'all';

/**
 * One operation, whole: its statuses, where it may start, and what its end changes. The API,
 * the worker and the admin database's constraints all read it from here.
 */
interface OperationDefinition {
  pending: InstanceStatus;
  inProgress: InstanceStatus;
  succeeded: InstanceStatus;
  failed: InstanceStatus;
  /** Statuses from which a client may ask for this operation. */
  requestableFrom: readonly InstanceStatus[];
  /** What success makes of the instance's record: the same, renamed to the job's target, or removed. */
  onSuccess: 'keep' | 'take-target-name' | 'remove';
  /**
   * Database names the request claims are held while the job runs; its end frees these.
   * (A failed create keeps its name until the instance is deleted: its database may exist.)
   */
  releases: { succeeded: NameRelease; failed: NameRelease };
}

const OPERATION_DEFINITIONS: Record<Operation, OperationDefinition> = {
  create: {
    pending: 'PendingCreate',
    inProgress: 'CreateInProgress',
    succeeded: 'Created',
    failed: 'CreateFailed',
    requestableFrom: [],
    onSuccess: 'keep',
    releases: { succeeded: 'none', failed: 'none' },
  },
  delete: {
    pending: 'PendingDelete',
    inProgress: 'DeleteInProgress',
    succeeded: 'Deleted',
    failed: 'DeleteFailed',
    requestableFrom: ['Created', 'CreateFailed', 'DeleteFailed', 'RenameFailed', 'ReleaseFailed'],
    onSuccess: 'remove',
    releases: { succeeded: 'all', failed: 'none' },
  },
  rename: {
    pending: 'PendingRename',
    inProgress: 'RenameInProgress',
    succeeded: 'Created',
    failed: 'RenameFailed',
    requestableFrom: ['Created', 'RenameFailed'],
    onSuccess: 'take-target-name',
    releases: { succeeded: 'source', failed: 'target' },
  },
  // Unregisters and removes the marker, never drops: the database stays, unmanaged (docs/adopt-release.md).
  release: {
    pending: 'PendingRelease',
    inProgress: 'ReleaseInProgress',
    succeeded: 'Released',
    failed: 'ReleaseFailed',
    requestableFrom: ['Created', 'CreateFailed', 'DeleteFailed', 'RenameFailed', 'ReleaseFailed'],
    onSuccess: 'remove',
    releases: { succeeded: 'all', failed: 'none' },
  },
};

/**
 * The status a delete ends in. The migrations written before releases existed build their
 * indexes from it alone; everything else asks GONE_STATUSES.
 */
export const REMOVED_STATUS: InstanceStatus = OPERATION_DEFINITIONS.delete.succeeded;

/**
 * The statuses of an instance that is gone (deleted, or released and its database left
 * unmanaged): final, kept for history, its names free for others.
 */
export const GONE_STATUSES: readonly InstanceStatus[] = OPERATIONS.filter(
  (op) => OPERATION_DEFINITIONS[op].onSuccess === 'remove',
).map((op) => OPERATION_DEFINITIONS[op].succeeded);

export function isGone(status: InstanceStatus): boolean {
  return GONE_STATUSES.includes(status);
}

/** A status with no work under way from which no operation may be asked: the instance is gone. */
export function isFinal(status: InstanceStatus): boolean {
  return !hasUnfinishedWork(status) && OPERATIONS.every((op) => !canRequest(op, status));
}

/**
 * Whether an instance in this status may have no database of its own: a failed create may have
 * stopped before its database existed, so a database under its name may be someone else's.
 */
export function mayOwnNoDatabase(status: InstanceStatus | null): boolean {
  return status === OPERATION_DEFINITIONS.create.failed;
}

/** A list of job statuses as SQL literals, for the migrations' partial indexes and the queries that must match them. */
export function sqlList(values: readonly string[]): string {
  return values.map((v) => `'${v.replace(/'/g, "''")}'`).join(', ');
}

export function phasesOf(op: Operation): Readonly<OperationDefinition> {
  return OPERATION_DEFINITIONS[op];
}

/** The operation whose failure left an instance in `status` (the one a retry runs again), if any. */
export function failedOperation(status: InstanceStatus): Operation | undefined {
  return OPERATIONS.find((op) => OPERATION_DEFINITIONS[op].failed === status);
}

export function canRequest(op: Operation, current: InstanceStatus): boolean {
  return OPERATION_DEFINITIONS[op].requestableFrom.includes(current);
}

/** Statuses a worker may move out of when it starts `op` (a repeated delivery finds InProgress). */
export function startableFrom(op: Operation): InstanceStatus[] {
  return [OPERATION_DEFINITIONS[op].pending, OPERATION_DEFINITIONS[op].inProgress];
}

/** True while an operation is pending or running on an instance in this status. */
export function hasUnfinishedWork(status: InstanceStatus): boolean {
  return OPERATIONS.some(
    (op) => status === OPERATION_DEFINITIONS[op].pending || status === OPERATION_DEFINITIONS[op].inProgress,
  );
}
