import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { InstanceEntity, JobEntity } from '../../shared/database/entities';

/**
 * Inserts `count` instances, each with one unfinished create job (1 in 7 `running`, the rest
 * `queued`), straight into the admin database, 500 rows a statement; creation times one
 * millisecond apart, oldest first. Returns the job rows in that order. For tests and benchmarks
 * of what reads many unfinished jobs (the reconciler) without going through the API.
 */
export async function insertUnfinishedJobs(
  dataSource: DataSource,
  count: number,
  prefix: string,
): Promise<JobEntity[]> {
  const base = Date.now() - 3_600_000;
  const jobs: JobEntity[] = [];
  for (let from = 0; from < count; from += 500) {
    const instances: Partial<InstanceEntity>[] = [];
    const rows: Partial<JobEntity>[] = [];
    for (let i = from; i < Math.min(count, from + 500); i++) {
      const at = new Date(base + i);
      const instanceId = randomUUID();
      const running = i % 7 === 0;
      instances.push({
        id: instanceId,
        instanceName: `${prefix} ${i}`,
        instanceNameKey: `${prefix} ${i}`.toLowerCase(),
        databaseName: `${prefix}_${i}`,
        status: running ? 'CreateInProgress' : 'PendingCreate',
        engine: 'postgres',
        createdBy: 'test',
        createdAt: at,
        updatedAt: at,
      });
      rows.push({
        id: randomUUID(),
        instanceId,
        type: 'create',
        status: running ? 'running' : 'queued',
        attempts: running ? 1 : 0,
        targetDatabaseName: `${prefix}_${i}`,
        requestedBy: 'test',
        requestId: null,
        createdAt: at,
        updatedAt: at,
      });
    }
    await dataSource.getRepository(InstanceEntity).insert(instances);
    await dataSource.getRepository(JobEntity).insert(rows);
    jobs.push(...(rows as JobEntity[]));
  }
  return jobs;
}
