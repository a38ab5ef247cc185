import type { JobEntity } from '../../shared/database/entities';
import { stagingDatabaseName } from '../../shared/database-names';
import { mayOwnNoDatabase, OPERATIONS, Operation } from '../../shared/instances/status';
import type { EngineDriver, OperationResult } from '../engines/engine';

export type JobHandler = (job: JobEntity) => Promise<OperationResult>;

export interface HandlerDeps {
  driver: EngineDriver;
  templateDatabase: string;
  /** Ids of the instance's create jobs (their staging databases are the instance's too). */
  createJobIdsOf: (instanceId: string) => Promise<string[]>;
}

function required(value: string | null, what: string, job: JobEntity): string {
  if (!value) throw new Error(`job ${job.id} (${job.type}) has no ${what}`);
  return value;
}

/** The handler for each job type; the worker refuses to start if one is missing. */
export function createHandlers(deps: HandlerDeps): Record<Operation, JobHandler> {
  const { driver } = deps;
  const handlers: Record<Operation, JobHandler> = {
    create: (job) =>
      driver.create({
        instanceId: job.instanceId,
        databaseName: required(job.targetDatabaseName, 'target database', job),
        templateDatabase: deps.templateDatabase,
        stagingName: stagingDatabaseName(job.id),
      }),
    rename: (job) =>
      driver.rename({
        instanceId: job.instanceId,
        from: required(job.sourceDatabaseName, 'source database', job),
        to: required(job.targetDatabaseName, 'target database', job),
      }),
    delete: async (job) => {
      const createJobIds = await deps.createJobIdsOf(job.instanceId);
      return driver.drop({
        instanceId: job.instanceId,
        databaseName: required(job.sourceDatabaseName, 'source database', job),
        stagingNames: createJobIds.map(stagingDatabaseName),
        ownsNothing: mayOwnNoDatabase(job.priorStatus),
      });
    },
  };
  const missing = OPERATIONS.filter((op) => typeof handlers[op] !== 'function');
  if (missing.length) throw new Error(`no handler for job types: ${missing.join(', ')}`);
  return handlers;
}
