import type { ApiConfig } from '../../shared/config';
import { ServiceUnavailableError } from '../../shared/errors';
import type { JobEntity } from '../../shared/database/entities';
import { stagingDatabaseName } from '../../shared/database-names';
import { mayOwnNoDatabase, type Operation } from '../../shared/instances/status';
import type { OperationPlan, PlanRequest } from '../../worker/engines/module';
import { planOperation } from '../../worker/engines/registry';
import { registrationNotes } from '../../worker/edfi-admin/plan-notes';
import type { ErrorDetail } from '../jobs/representation';
import { instanceView } from './representation';
import type { InstanceWithJob } from './service';

/** What `?dryRun=true` answers: the instance and job as they would be recorded, and the plan of the job. */
export interface InstancePlanView extends OperationPlan {
  dryRun: true;
  /** As it would be recorded; a create's id is made for this plan and recorded nowhere. */
  instance: Omit<ReturnType<typeof instanceView>, '_links' | 'job'>;
  /** The job the request would start (its id names a create's staging database), or null when it starts none. */
  job: {
    id: string;
    type: Operation;
    sourceDatabaseName: string | null;
    targetDatabaseName: string | null;
    force: boolean;
    sourceInstanceId: string | null;
    disconnectSource: boolean;
  } | null;
}

/**
 * Turns a request the service ran as a dry run (checked, written, rolled back) into the plan of
 * the job it would start, from the engine module's own statement builders and the engine
 * settings the worker runs with. Needs no connection to the ODS server, and gets none.
 */
export class InstancePlanner {
  constructor(
    private readonly ods: Pick<ApiConfig['ods'], 'engine' | 'templateDatabase' | 'engineSettings'>,
    private readonly settingsProblems: string[] = [],
  ) {}

  /** Refuses before anything runs when the API's environment lacks the engine settings a plan is built from. */
  assertAvailable(): void {
    if (this.settingsProblems.length)
      throw new ServiceUnavailableError(
        `dry runs need the ${this.ods.engine} engine's settings in the API's environment too: ${this.settingsProblems.join('; ')}`,
        // Until an operator adds them and restarts the API.
        300,
      );
  }

  /** `createJobIds`: for a delete, the instance's create jobs (the staging copies it looks for). */
  view(
    operation: Operation,
    { instance, job }: InstanceWithJob,
    detail: ErrorDetail,
    createJobIds: string[] = [],
  ): InstancePlanView {
    const { _links: _unused, ...recorded } = instanceView(instance, detail);
    const plan = this.plan(operation, instance, job, createJobIds);
    return {
      dryRun: true,
      operation: plan.operation,
      engine: plan.engine,
      strategy: plan.strategy,
      instance: recorded,
      job: job && {
        id: job.id,
        type: job.type,
        sourceDatabaseName: job.sourceDatabaseName,
        targetDatabaseName: job.targetDatabaseName,
        force: job.force,
        sourceInstanceId: job.sourceInstanceId ?? null,
        disconnectSource: job.disconnectSource ?? false,
      },
      statements: plan.statements,
      privileges: plan.privileges,
      notes: plan.notes,
    };
  }

  private plan(
    operation: Operation,
    instance: InstanceWithJob['instance'],
    job: JobEntity | null,
    createJobIds: string[],
  ): OperationPlan {
    if (!job)
      return this.nothingToRun(operation, [
        "No job starts and nothing is sent to the ODS server: only the instance's record changes (its instanceName), if anything.",
      ]);
    const registration = registrationNotes(job.type, instance, { force: job.force, adopt: job.adopt });
    const request = this.requestFor(job, createJobIds);
    if (!request)
      return this.nothingToRun(operation, [
        'The database keeps its name: the job only carries the new instanceName to EdFi_Admin, and sends nothing to the ODS server.',
        ...registration,
      ]);
    const plan = planOperation(this.ods.engine, request, this.ods.engineSettings);
    const failedCreate =
      (request.operation === 'delete' || request.operation === 'release') && mayOwnNoDatabase(job.priorStatus)
        ? [
            `The instance's create failed, so it may own no database: a "${request.databaseName}" without its marker is left alone and the ${request.operation} succeeds.`,
          ]
        : [];
    return { ...plan, notes: [...plan.notes, ...failedCreate, ...registration] };
  }

  /** What the job hands the driver (worker/jobs/handlers.ts), or null when it calls no driver operation. */
  private requestFor(job: JobEntity, createJobIds: string[]): PlanRequest | null {
    const source = job.sourceDatabaseName ?? '';
    const target = job.targetDatabaseName ?? '';
    if (job.type === 'create' && job.adopt)
      return { operation: 'adopt', instanceId: job.instanceId, databaseName: target };
    if (job.type === 'release') return { operation: 'release', instanceId: job.instanceId, databaseName: source };
    if (job.type === 'create')
      return {
        operation: 'create',
        instanceId: job.instanceId,
        databaseName: target,
        templateDatabase: job.sourceDatabaseName ?? this.ods.templateDatabase,
        stagingName: stagingDatabaseName(job.id),
        ...(job.sourceInstanceId
          ? { copy: { sourceInstanceId: job.sourceInstanceId, disconnectSource: job.disconnectSource } }
          : {}),
      };
    if (job.type === 'rename')
      return source === target ? null : { operation: 'rename', instanceId: job.instanceId, from: source, to: target };
    return {
      operation: 'delete',
      instanceId: job.instanceId,
      databaseName: source,
      stagingNames: createJobIds.map(stagingDatabaseName),
    };
  }

  private nothingToRun(operation: Operation, notes: string[]): OperationPlan {
    return { engine: this.ods.engine, operation, strategy: null, statements: [], privileges: [], notes };
  }
}

/** A plan for people: numbered statements, each with its purpose, condition and database. */
export function formatPlan(plan: OperationPlan): string {
  const lines = [
    `${plan.operation} on ${plan.engine}${plan.strategy ? ` (strategy: ${plan.strategy})` : ''}`,
    '',
    'Statements, in the order the worker sends them:',
  ];
  plan.statements.forEach((s, i) => {
    const where = [s.when, s.database ? `connected to ${s.database}` : ''].filter(Boolean).join('; ');
    lines.push(`  ${i + 1}. -- ${s.purpose}${where ? ` [${where}]` : ''}`, `     ${s.sql};`);
  });
  if (!plan.statements.length) lines.push('  (none)');
  lines.push('', 'Privileges the worker needs:', ...plan.privileges.map((p) => `  - ${p}`));
  if (!plan.privileges.length) lines.push('  (none)');
  lines.push('', 'Notes:', ...plan.notes.map((n) => `  - ${n}`));
  return lines.join('\n');
}
