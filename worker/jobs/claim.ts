import { type DataSource, In } from 'typeorm';
import { InstanceEntity, JobEntity } from '../../shared/database/entities';
import { entityHydrator, preparedStatement } from '../../shared/database/prepared-read';
import { phasesOf, startableFrom, UNFINISHED_JOB_STATUSES } from '../../shared/instances/status';

/**
 * A job's claim: queued|running → running, counting the attempt and naming the worker, and its
 * instance moved to the operation's in-progress status, both or neither. Null when the job is
 * already finished (a late or repeated delivery).
 *
 * On PostgreSQL it is one statement, so one round trip and one commit: the job's update and the
 * instance's in a data-modifying CTE, the job row returned. The TypeORM transaction it replaces
 * there (five round trips) took about 2.4 times as long and 2.4 times the worker's CPU
 * (`bench/claim.ts`, docs/benchmarks.md "Create overhead"). Elsewhere (SQL Server) it is that
 * transaction.
 */
export class JobClaim {
  private readonly statement?: (values: unknown[]) => Promise<Record<string, unknown>[]>;
  private readonly hydrate: (row: Record<string, unknown>) => JobEntity;

  /** `transaction`: the transaction on PostgreSQL too (the claim benchmark and tests compare the two). */
  constructor(
    private readonly dataSource: DataSource,
    private readonly workerId: string,
    options: { transaction?: boolean } = {},
  ) {
    this.hydrate = entityHydrator(dataSource, JobEntity);
    if (dataSource.driver.options.type === 'postgres' && !options.transaction)
      this.statement = preparedStatement(
        dataSource,
        `WITH claimed AS (
           UPDATE jobs SET status = 'running', attempts = attempts + 1, started_at = COALESCE(started_at, $1),
             updated_at = $1, worker_id = $2
           WHERE id = $3 AND status = ANY($4::text[])
           RETURNING *
         ), moved AS (
           UPDATE instances SET status = $5, updated_at = $1
           WHERE id = (SELECT instance_id FROM claimed) AND status = ANY($6::text[])
         )
         SELECT * FROM claimed`,
      );
  }

  async claim(row: JobEntity): Promise<JobEntity | null> {
    const now = new Date();
    if (this.statement) {
      const [claimed] = await this.statement([
        now,
        this.workerId,
        row.id,
        [...UNFINISHED_JOB_STATUSES],
        phasesOf(row.type).inProgress,
        startableFrom(row.type),
      ]);
      return claimed ? this.hydrate(claimed) : null;
    }
    return this.dataSource.transaction(async (m) => {
      const result = await m
        .createQueryBuilder()
        .update(JobEntity)
        .set({
          status: 'running',
          attempts: () => 'attempts + 1',
          startedAt: row.startedAt ?? now,
          updatedAt: now,
          workerId: this.workerId,
        })
        .where({ id: row.id, status: In([...UNFINISHED_JOB_STATUSES]) })
        .execute();
      if (!result.affected) return null;
      await m.update(
        InstanceEntity,
        { id: row.instanceId, status: In(startableFrom(row.type)) },
        { status: phasesOf(row.type).inProgress, updatedAt: now },
      );
      return m.findOneByOrFail(JobEntity, { id: row.id });
    });
  }
}
