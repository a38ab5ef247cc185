import { type DataSource, type EntityTarget, In, type ObjectLiteral } from 'typeorm';
import { auditRow } from '../../shared/audit';
import { AuditEventEntity, DatabaseNameClaimEntity, InstanceEntity, JobEntity } from '../../shared/database/entities';
import { nameKey } from '../../shared/database-names';
import { preparedStatement } from '../../shared/database/prepared-read';
import { phasesOf, startableFrom } from '../../shared/instances/status';
import type { JobResult } from './handlers';

/** What a job's end writes: its row, its instance's, the names it frees and its audit row. */
export interface FinishPlan {
  jobId: string;
  job: Pick<JobEntity, 'status' | 'error' | 'warnings' | 'finishedAt' | 'updatedAt'>;
  instanceId: string;
  /** Changed only while the instance is still in one of these (the operation's pending or in-progress status). */
  instanceFrom: string[];
  instance: Partial<InstanceEntity>;
  /** The name claims to delete: all of the instance's, the one of this name key, or none. */
  release: { all: true } | { nameKey: string } | null;
  audit: AuditEventEntity;
}

/** The end of `job` as rows to write; the same for both forms of JobFinish. */
export function finishPlan(
  job: JobEntity,
  status: 'succeeded' | 'failed',
  error: string | null,
  workerId: string,
  result?: JobResult,
): FinishPlan {
  const now = new Date();
  const registration = result?.registration;
  const warnings = result?.warnings ?? [];
  const operation = phasesOf(job.type);
  const instance: Partial<InstanceEntity> = { status: operation[status], lastError: error, updatedAt: now };
  if (
    status === 'succeeded' &&
    operation.onSuccess === 'take-target-name' &&
    job.targetDatabaseName &&
    job.targetDatabaseName !== job.sourceDatabaseName // not a new instance name only
  ) {
    instance.databaseName = job.targetDatabaseName;
    instance.previousDatabaseName = job.sourceDatabaseName;
  }
  if (status === 'succeeded' && operation.onSuccess === 'remove') instance.deletedAt = now;
  // Recorded with the end state, in one transaction: a crash before it makes the re-run adopt the row.
  if (
    status === 'succeeded' &&
    registration &&
    (registration.odsInstanceId !== null || operation.onSuccess === 'remove')
  )
    instance.odsInstanceId = registration.odsInstanceId;
  return {
    jobId: job.id,
    job: { status, error, warnings, finishedAt: now, updatedAt: now },
    instanceId: job.instanceId,
    instanceFrom: startableFrom(job.type),
    instance,
    release: releaseOf(job, operation.releases[status]),
    audit: auditRow({
      actor: `worker:${workerId}`,
      action: `instance.${job.type}`,
      outcome: status,
      instanceId: job.instanceId,
      jobId: job.id,
      requestId: job.requestId,
      details: {
        outcome: result?.outcome,
        error,
        attempts: job.attempts,
        ...(registration ? { registration } : {}),
        ...(warnings.length ? { warnings } : {}),
      },
    }),
  };
}

/** The database names the operation's end gives back (shared/instances/status.ts says which). */
function releaseOf(
  job: JobEntity,
  release: ReturnType<typeof phasesOf>['releases']['succeeded'],
): FinishPlan['release'] {
  if (release === 'all') return { all: true };
  const [name, other] =
    release === 'source'
      ? [job.sourceDatabaseName, job.targetDatabaseName]
      : [job.targetDatabaseName, job.sourceDatabaseName];
  // A rename that only changes letter case keeps one claim for both names: nothing to free.
  if (release === 'none' || !name || (other && nameKey(other) === nameKey(name))) return null;
  return { nameKey: nameKey(name) };
}

/**
 * Writes a job's end: the job row (only if it is still running: a second delivery writes
 * nothing), its instance, the freed name claims and the audit row, all or nothing.
 *
 * On PostgreSQL it is one statement (data-modifying CTEs, each conditional on the job's update),
 * so one round trip and one commit; the TypeORM transaction it replaces there took seven
 * (`bench/claim.ts`, docs/benchmarks.md "Create overhead"). Elsewhere (SQL Server) it is that
 * transaction. Each value goes through the entity's column metadata (transformers, the driver's
 * conversions) as TypeORM's own update would, with a cast to the column's type read from the
 * server's catalog once.
 */
export class JobFinish {
  private readonly oneStatement: boolean;
  private columnTypes?: Promise<Map<string, string>>;
  private readonly statements = new Map<string, (values: unknown[]) => Promise<Record<string, unknown>[]>>();

  /** `transaction`: the transaction on PostgreSQL too (the benchmark and tests compare the two). */
  constructor(
    private readonly dataSource: DataSource,
    options: { transaction?: boolean } = {},
  ) {
    this.oneStatement = dataSource.driver.options.type === 'postgres' && !options.transaction;
  }

  async finish(plan: FinishPlan): Promise<void> {
    if (this.oneStatement) return this.inOneStatement(plan);
    await this.dataSource.transaction(async (m) => {
      const updated = await m.update(JobEntity, { id: plan.jobId, status: 'running' }, plan.job);
      if (!updated.affected) return;
      await m.update(InstanceEntity, { id: plan.instanceId, status: In(plan.instanceFrom) }, plan.instance);
      if (plan.release && 'all' in plan.release)
        await m.delete(DatabaseNameClaimEntity, { instanceId: plan.instanceId });
      else if (plan.release)
        await m.delete(DatabaseNameClaimEntity, { nameKey: plan.release.nameKey, instanceId: plan.instanceId });
      await m.insert(AuditEventEntity, plan.audit);
    });
  }

  private async inOneStatement(plan: FinishPlan): Promise<void> {
    // Read once; a read that failed (the admin database away) is read again on the step's next try.
    const types = await (this.columnTypes ??= this.readColumnTypes().catch((err: unknown) => {
      this.columnTypes = undefined;
      throw err;
    }));
    const values: unknown[] = [];
    const driver = this.dataSource.driver;
    /** A placeholder for `value` of `entity`'s `property`, converted and cast as the column needs. */
    const param = <T extends ObjectLiteral>(entity: EntityTarget<T>, property: string, value: unknown): string => {
      const metadata = this.dataSource.getMetadata(entity);
      const column = metadata.findColumnWithPropertyName(property);
      if (!column) throw new Error(`JobFinish: ${metadata.name} has no column ${property}`);
      values.push(driver.preparePersistentValue(value, column));
      return `$${values.length}::${types.get(`${metadata.tableName}.${column.databaseName}`)}`;
    };
    const name = <T extends ObjectLiteral>(entity: EntityTarget<T>, property?: string): string => {
      const metadata = this.dataSource.getMetadata(entity);
      return driver.escape(property ? metadata.findColumnWithPropertyName(property)!.databaseName : metadata.tableName);
    };
    const assignments = <T extends ObjectLiteral>(entity: EntityTarget<T>, changes: object): string =>
      Object.entries(changes)
        .map(([property, value]) => `${name(entity, property)} = ${param(entity, property, value)}`)
        .join(', ');

    const jobSet = assignments(JobEntity, plan.job);
    const jobId = param(JobEntity, 'id', plan.jobId);
    const instanceSet = assignments(InstanceEntity, plan.instance);
    const instanceId = param(InstanceEntity, 'id', plan.instanceId);
    values.push(plan.instanceFrom);
    const instanceFrom = `$${values.length}::text[]`;
    const release = !plan.release
      ? ''
      : `, released AS (DELETE FROM ${name(DatabaseNameClaimEntity)} WHERE ${name(DatabaseNameClaimEntity, 'instanceId')} = ${param(DatabaseNameClaimEntity, 'instanceId', plan.instanceId)}` +
        ('nameKey' in plan.release
          ? ` AND ${name(DatabaseNameClaimEntity, 'nameKey')} = ${param(DatabaseNameClaimEntity, 'nameKey', plan.release.nameKey)}`
          : '') +
        ' AND EXISTS (SELECT 1 FROM finished))';
    const auditColumns = Object.keys(plan.audit);
    const audit = `audited AS (INSERT INTO ${name(AuditEventEntity)} (${auditColumns.map((p) => name(AuditEventEntity, p)).join(', ')}) SELECT ${auditColumns.map((p) => param(AuditEventEntity, p, plan.audit[p as keyof AuditEventEntity])).join(', ')} WHERE EXISTS (SELECT 1 FROM finished))`;
    const sql =
      `WITH finished AS (UPDATE ${name(JobEntity)} SET ${jobSet} WHERE ${name(JobEntity, 'id')} = ${jobId} AND ${name(JobEntity, 'status')} = 'running' RETURNING 1), ` +
      `moved AS (UPDATE ${name(InstanceEntity)} SET ${instanceSet} WHERE ${name(InstanceEntity, 'id')} = ${instanceId} AND ${name(InstanceEntity, 'status')} = ANY(${instanceFrom}) AND EXISTS (SELECT 1 FROM finished))` +
      `${release}, ${audit} SELECT count(*) AS finished FROM finished`;
    let run = this.statements.get(sql);
    if (!run) this.statements.set(sql, (run = preparedStatement(this.dataSource, sql)));
    await run(values);
  }

  /** `table.column` → its type as the server names it, without a length (`uuid`, `character varying`, …), for the casts: a value too long for the column is refused by the column, as before, not cut by the cast. */
  private async readColumnTypes(): Promise<Map<string, string>> {
    const tables = [JobEntity, InstanceEntity, DatabaseNameClaimEntity, AuditEventEntity].map(
      (entity) => this.dataSource.getMetadata(entity).tableName,
    );
    const rows = await this.dataSource.query<{ table: string; column: string; type: string }[]>(
      `SELECT c.relname AS "table", a.attname AS "column", format_type(a.atttypid, NULL) AS "type"
         FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
        WHERE c.oid = ANY(ARRAY[${tables.map((_, i) => `to_regclass($${i + 1})`).join(', ')}]) AND a.attnum > 0 AND NOT a.attisdropped`,
      tables,
    );
    return new Map(rows.map((r) => [`${r.table}.${r.column}`, r.type]));
  }
}
