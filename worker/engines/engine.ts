import type { EngineName } from '../../shared/database-names';

/** What the manager knows of one database on the ODS server. */
export interface DatabaseDescription {
  name: string;
  /** The instance whose ownership marker the database carries, or null for an unmanaged database. */
  ownerInstanceId: string | null;
  /** False while a drop was interrupted half-way (PostgreSQL marks such a database invalid). */
  valid: boolean;
  acceptsConnections: boolean;
}

export interface CreateRequest {
  instanceId: string;
  databaseName: string;
  templateDatabase: string;
  /** Where the clone is built and marked before it takes its final name (named by the job, so always ours). */
  stagingName: string;
}

export interface DropRequest {
  instanceId: string;
  databaseName: string;
  /** Staging databases of this instance's create jobs, dropped too if a crash left them. */
  stagingNames: string[];
  /** The instance never owned a database (its create failed): a foreign one is left alone and the drop succeeds. */
  ownsNothing: boolean;
}

export interface RenameRequest {
  instanceId: string;
  from: string;
  to: string;
}

/** Take an existing, unmanaged database under this instance (its marker set), copying nothing. */
export interface AdoptRequest {
  instanceId: string;
  databaseName: string;
}

/** Give the database back: this instance's marker removed, the database kept. */
export interface ReleaseRequest {
  instanceId: string;
  databaseName: string;
  /** The instance never owned a database (its create failed): a database without its marker is left alone and the release succeeds. */
  ownsNothing: boolean;
}

/** What the call found and did; logged and kept in the audit trail. */
export type Outcome =
  | 'created'
  | 'already-created'
  | 'dropped'
  | 'already-absent'
  | 'left-unmanaged'
  | 'renamed'
  | 'already-renamed'
  | 'adopted'
  | 'already-adopted'
  | 'released'
  | 'already-released';

/** What an operation found and did, and anything worth an operator's look that did not stop it. */
export interface OperationResult {
  outcome: Outcome;
  warnings: string[];
}

/**
 * One engine's privileged operations. Each is idempotent: it looks at the server first, so
 * running it twice (a re-delivered job, a crash half-way) ends in the same state as once.
 * None ever drops or overwrites a database that lacks this instance's ownership marker.
 */
export interface EngineDriver {
  readonly engine: EngineName;
  create(request: CreateRequest): Promise<OperationResult>;
  /** When the database is already gone, warns about any database still carrying this instance's marker (it is never dropped). */
  drop(request: DropRequest): Promise<OperationResult>;
  rename(request: RenameRequest): Promise<OperationResult>;
  /** Marks an existing database that carries no marker (worker/engines/ownership.ts: adoptDatabase). */
  adopt(request: AdoptRequest): Promise<OperationResult>;
  /** Removes this instance's marker, never drops (worker/engines/ownership.ts: releaseDatabase). */
  release(request: ReleaseRequest): Promise<OperationResult>;
  /** Whether retrying `err` may help (a template in use, a dropped connection...). */
  isTransient(err: unknown): boolean;
  close(): Promise<void>;
}

/**
 * What another engine needs of this engine's server to check work it did not do itself (the
 * external command engine verifies a script's result through one): look at a database, find
 * this instance's marker elsewhere, mark a database the script made, prove it takes writes.
 */
export interface ServerInspector {
  describe(name: string): Promise<DatabaseDescription | null>;
  /** Every database whose ownership marker names this instance, under whatever name. */
  databasesMarkedFor(instanceId: string): Promise<string[]>;
  /** Sets this instance's ownership marker on the database (the caller has checked it carries no other). */
  markOwner(name: string, instanceId: string): Promise<void>;
  /** Removes the ownership marker from the database (the caller has checked it is this instance's). */
  clearOwner(name: string): Promise<void>;
  /** Throws a PermanentJobError when the database does not take writes. */
  assertWritable(name: string): Promise<void>;
  /** Whether retrying `err` may help (a dropped connection...). */
  isTransient(err: unknown): boolean;
  close(): Promise<void>;
}

/** The ownership marker, as stored on each database the manager creates. */
export const MARKER_KIND = 'ods-instance-manager';

export function ownershipMarker(instanceId: string): string {
  return JSON.stringify({ managedBy: MARKER_KIND, instanceId });
}

export function parseOwnershipMarker(text: string | null | undefined): string | null {
  if (!text) return null;
  try {
    const parsed = JSON.parse(text) as { managedBy?: unknown; instanceId?: unknown };
    return parsed.managedBy === MARKER_KIND && typeof parsed.instanceId === 'string' ? parsed.instanceId : null;
  } catch {
    return null;
  }
}
