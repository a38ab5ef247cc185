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
] as const;
export type InstanceStatus = (typeof INSTANCE_STATUSES)[number];

export const OPERATIONS = ['create', 'delete', 'rename'] as const;
export type Operation = (typeof OPERATIONS)[number];

export const JOB_STATUSES = ['queued', 'running', 'succeeded', 'failed'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export const UNFINISHED_JOB_STATUSES: readonly JobStatus[] = ['queued', 'running'];

interface Phases {
  pending: InstanceStatus;
  inProgress: InstanceStatus;
  succeeded: InstanceStatus;
  failed: InstanceStatus;
  /** Statuses from which a client may ask for this operation. */
  requestableFrom: readonly InstanceStatus[];
}

const PHASES: Record<Operation, Phases> = {
  create: {
    pending: 'PendingCreate',
    inProgress: 'CreateInProgress',
    succeeded: 'Created',
    failed: 'CreateFailed',
    requestableFrom: [],
  },
  delete: {
    pending: 'PendingDelete',
    inProgress: 'DeleteInProgress',
    succeeded: 'Deleted',
    failed: 'DeleteFailed',
    requestableFrom: ['Created', 'CreateFailed', 'DeleteFailed', 'RenameFailed'],
  },
  rename: {
    pending: 'PendingRename',
    inProgress: 'RenameInProgress',
    succeeded: 'Created',
    failed: 'RenameFailed',
    requestableFrom: ['Created', 'RenameFailed'],
  },
};

export function phasesOf(op: Operation): Readonly<Phases> {
  return PHASES[op];
}

export function canRequest(op: Operation, current: InstanceStatus): boolean {
  return PHASES[op].requestableFrom.includes(current);
}

/** Statuses a worker may move out of when it starts `op` (a repeated delivery finds InProgress). */
export function startableFrom(op: Operation): InstanceStatus[] {
  return [PHASES[op].pending, PHASES[op].inProgress];
}

/** True while an operation is pending or running on an instance in this status. */
export function hasUnfinishedWork(status: InstanceStatus): boolean {
  return OPERATIONS.some((op) => status === PHASES[op].pending || status === PHASES[op].inProgress);
}
