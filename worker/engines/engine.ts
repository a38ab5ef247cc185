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
  /** What is copied: the deployment's template, or for a copy the source instance's database. */
  templateDatabase: string;
  /** Where the clone is built and marked before it takes its final name (named by the job, so always ours). */
  stagingName: string;
  /** Set when the create copies another instance's database (docs/copy.md). */
  copy?: CopySource;
}

/** A create that copies another instance's database: `templateDatabase` is that database. */
export interface CopySource {
  /** The source database must carry this instance's marker: a copy never reads a database it was not asked for. */
  sourceInstanceId: string;
  /** The request allowed the copy to shut the source to new connections and end its sessions (PostgreSQL). */
  disconnectSource: boolean;
  /** The job's durable note that it shut the source (jobs.source_closed_at). */
  closedNote: SourceClosedNote;
}

/**
 * Written in the admin database before the source is shut and cleared once it is open again, so
 * whatever a crash leaves shut is found and reopened: by the job's next run, first thing, or by
 * the reconciler once the job has ended. A source that was already shut (by an administrator)
 * gets no note and is left shut.
 */
export interface SourceClosedNote {
  /** An earlier run of this job shut the source and may not have reopened it. */
  isSet(): boolean;
  set(): Promise<void>;
  clear(): Promise<void>;
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
export interface EngineDriver extends Partial<ServerSurvey> {
  readonly engine: EngineName;
  create(request: CreateRequest): Promise<OperationResult>;
  /** When the database is already gone, warns about any database still carrying this instance's marker (it is never dropped). */
  drop(request: DropRequest): Promise<OperationResult>;
  rename(request: RenameRequest): Promise<OperationResult>;
  /**
   * Lets connections into a database a copy shut and never reopened (its worker died between the
   * two); does nothing if the database is gone. Engines that never shut a source lack it.
   */
  reopenCopySource?(databaseName: string): Promise<void>;
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
export interface ServerInspector extends Partial<ServerSurvey> {
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

/** A database's state, normalized across engines (SQL Server's state_desc, user access and read-only flag). */
export const DATABASE_STATES = [
  'online',
  'read-only',
  'single-user',
  'restricted-user',
  'restoring',
  'recovering',
  'recovery-pending',
  'suspect',
  'emergency',
  'offline',
  'invalid',
  'not-connectable',
] as const;
export type DatabaseState = (typeof DATABASE_STATES)[number];

/** One database on the ODS server, as an inventory run saw it (docs/inventory.md). */
export interface SurveyedDatabase {
  name: string;
  sizeBytes: number | null;
  state: DatabaseState;
  /** Sessions open on the database (other than the survey's own). */
  connections: number | null;
  allowsConnections: boolean;
  /** The instance id of this manager's ownership marker on the database, or null. */
  markerInstanceId: string | null;
  /** util.GetEdFiOdsVersion() / util.GetEdFiStandardVersion(), null where the database has no such function. */
  edfiOdsVersion: string | null;
  edfiStandardVersion: string | null;
}

/**
 * What an engine's driver offers when it can take an inventory: every non-system database on
 * the server, with this manager's marker where it has one. Read-only: a survey changes nothing.
 */
export interface ServerSurvey {
  survey(): Promise<SurveyedDatabase[]>;
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
