import { Column, Entity, PrimaryColumn, ValueTransformer } from 'typeorm';
import { TEXT, FLAG, uuidColumn } from './portable-columns';
import type { InstanceStatus, JobStatus, Operation } from '../../instances/status';

const WARNINGS_LENGTH = 2000;

/**
 * Warnings are stored as a JSON array that always fits the column and always parses: each is
 * cut to a fair share, and those that still do not fit are counted in a last entry.
 */
export function encodeWarnings(warnings: readonly string[] | null | undefined): string | null {
  if (!warnings?.length) return null;
  const share = Math.max(100, Math.floor(WARNINGS_LENGTH / warnings.length) - 20);
  const kept = warnings.map((w) => w.slice(0, share));
  const encode = () =>
    JSON.stringify(
      kept.length < warnings.length
        ? [...kept, `${warnings.length - kept.length} more warnings not kept; see the worker's log`]
        : kept,
    );
  while (encode().length > WARNINGS_LENGTH) kept.pop();
  return encode();
}

const warningsColumn: ValueTransformer = {
  to: (warnings: readonly string[] | null | undefined) => encodeWarnings(warnings),
  from: (text: string | null): string[] => (text ? (JSON.parse(text) as string[]) : []),
};

/** One requested operation. Its id is also the BullMQ job id, which makes re-enqueueing idempotent. */
@Entity({ name: 'jobs' })
export class JobEntity {
  @PrimaryColumn({ type: 'uuid', transformer: uuidColumn }) id: string;
  @Column({ name: 'instance_id', type: 'uuid', transformer: uuidColumn }) instanceId: string;
  @Column({ type: TEXT, length: 16 }) type: Operation;
  @Column({ type: TEXT, length: 16 }) status: JobStatus;
  @Column({ type: 'int' }) attempts: number;
  /** The database the operation starts from (rename, delete) and the one it produces (create, rename). */
  @Column({ name: 'source_database_name', type: TEXT, length: 128, nullable: true }) sourceDatabaseName: string | null;
  @Column({ name: 'target_database_name', type: TEXT, length: 128, nullable: true }) targetDatabaseName: string | null;
  /** The instance's status when the job was requested (a delete of a CreateFailed instance owns nothing). */
  @Column({ name: 'prior_status', type: TEXT, length: 32, nullable: true }) priorStatus: InstanceStatus | null;
  @Column({ type: TEXT, length: 2000, nullable: true }) error: string | null;
  /** What the job found worth telling an operator without failing (a database renamed by hand...). */
  @Column({ type: TEXT, length: WARNINGS_LENGTH, nullable: true, transformer: warningsColumn }) warnings: string[];
  @Column({ name: 'request_id', type: TEXT, length: 64, nullable: true }) requestId: string | null;
  @Column({ name: 'requested_by', type: TEXT, length: 64 }) requestedBy: string;
  @Column({ name: 'worker_id', type: TEXT, length: 128, nullable: true }) workerId: string | null;
  @Column({ name: 'created_at', type: Date }) createdAt: Date;
  @Column({ name: 'updated_at', type: Date }) updatedAt: Date;
  @Column({ name: 'started_at', type: Date, nullable: true }) startedAt: Date | null;
  @Column({ name: 'finished_at', type: Date, nullable: true }) finishedAt: Date | null;
  /** A delete that may also remove the EdFi_Admin links (client links, derivatives) that would block it. */
  @Column({ type: FLAG, default: false }) force: boolean;
  /** A create that copies this instance's database (in sourceDatabaseName) instead of the template (docs/copy.md). */
  @Column({ name: 'source_instance_id', type: 'uuid', transformer: uuidColumn, nullable: true })
  sourceInstanceId: string | null;
  /** The request allowed the copy to shut the source to new connections and end its sessions (PostgreSQL). */
  @Column({ name: 'disconnect_source', type: FLAG, default: false }) disconnectSource: boolean;
  /**
   * Set by the worker just before it shuts the source database to connections, cleared once it
   * reopened it: whatever a crash left set is reopened by the job's next run or by the reconciler.
   */
  @Column({ name: 'source_closed_at', type: Date, nullable: true }) sourceClosedAt: Date | null;
  /** A create that adopts the existing database instead of copying the template. */
  @Column({ type: FLAG, default: false }) adopt: boolean;
}
