import type { InstanceEntity, JobEntity } from '../../shared/database/entities';
import { nameRulesFor, reservedNameSet, stagingDatabaseName } from '../../shared/database-names';
import { PermanentJobError } from '../../shared/errors';
import { mayOwnNoDatabase, OPERATIONS, Operation } from '../../shared/instances/status';
import type { CopySource, EngineDriver, OperationResult } from '../engines/engine';
import type { EdFiAdminRegistry, RegisterRequest, RegistryResult, Registrations } from '../edfi-admin/registry';

/** What a job did: the engine's result, and where registration is on, the EdFi_Admin row it leaves. */
export interface JobResult extends OperationResult {
  /** Set when the job touched EdFi_Admin: the instance's OdsInstanceId afterwards (null once removed). */
  registration?: { outcome: RegistryResult['outcome']; odsInstanceId: number | null };
}

export type JobHandler = (job: JobEntity) => Promise<JobResult>;

export interface HandlerDeps {
  driver: EngineDriver;
  /** The default template's database: what a create job that recorded none copies. */
  templateDatabase: string;
  /** Whether a name is a template's database (ODS_TEMPLATES): never the target of an operation. */
  isTemplateDatabase?: (name: string) => boolean;
  /** Ids of the instance's create jobs (their staging databases are the instance's too). */
  createJobIdsOf: (instanceId: string) => Promise<string[]>;
  /** The instance's record (name, tenant, contexts, client keys, OdsInstanceId). */
  instanceOf: (instanceId: string) => Promise<InstanceEntity>;
  /** EdFi_Admin per tenant; none when registration is off (the jobs then only do the database work). */
  registrations: Registrations;
  /** Writes (a date) or clears (null) the job's note that it shut its copy source (jobs.source_closed_at). */
  noteSourceClosed: (jobId: string, at: Date | null) => Promise<void>;
  /** ODS_RESERVED_DATABASE_NAMES and the admin database's name, when the worker knows them: never adopted. */
  reservedNames?: string[];
}

function required(value: string | null, what: string, job: JobEntity): string {
  if (!value) throw new Error(`job ${job.id} (${job.type}) has no ${what}`);
  return value;
}

function withRegistration(result: OperationResult, registered: RegistryResult): JobResult {
  return {
    ...result,
    warnings: [...result.warnings, ...registered.warnings],
    registration: { outcome: registered.outcome, odsInstanceId: registered.odsInstanceId },
  };
}

/** What EdFi_Admin is told of an instance whose database is `databaseName` (a create's, an adopt's). */
function registrationOf(instance: InstanceEntity, databaseName: string): RegisterRequest {
  return {
    instanceId: instance.id,
    name: instance.instanceName,
    instanceType: instance.instanceType,
    databaseName,
    contexts: instance.contexts ?? [],
    apiClientKeys: instance.apiClientKeys ?? [],
    knownOdsInstanceId: instance.odsInstanceId,
  };
}

/**
 * The handler for each job type; the worker refuses to start if one is missing. With
 * registration on: create = database → register → Created (an adopting create marks the
 * existing database instead of copying); rename = database → re-point the row; delete =
 * unregister (refused while links remain, unless forced) → drop; release = unregister → unmark.
 */
export function createHandlers(deps: HandlerDeps): Record<Operation, JobHandler> {
  const { driver } = deps;
  const registryOf = async (job: JobEntity): Promise<[EdFiAdminRegistry, InstanceEntity] | undefined> => {
    if (!deps.registrations.enabled) return undefined;
    const instance = await deps.instanceOf(job.instanceId);
    const registry = deps.registrations.for(instance.tenant);
    return registry ? [registry, instance] : undefined;
  };
  /** Registration is on, but not for this instance's tenant: the job does its database work and says so. */
  const unregisteredTenant = async (job: JobEntity, result: OperationResult): Promise<JobResult> => {
    if (!deps.registrations.enabled) return result;
    const { tenant } = await deps.instanceOf(job.instanceId);
    return {
      ...result,
      warnings: [
        ...result.warnings,
        `no EdFi_Admin is configured for tenant ${JSON.stringify(tenant)}; the instance was not ${job.type === 'create' ? 'registered' : 'updated'} in EdFi_Admin`,
      ],
    };
  };

  /**
   * The API refuses a delete or rename of a protected instance, and protecting one with a job
   * under way; this covers a job it accepted anyway (an API replica older than protection during
   * an upgrade, a flag set by hand): the job fails for good before touching anything.
   */
  const refuseIfProtected = async (job: JobEntity): Promise<void> => {
    if ((await deps.instanceOf(job.instanceId)).protected === true)
      throw new PermanentJobError(
        `the instance is protected: this ${job.type} job was not run; unprotect the instance, then retry`,
      );
  };

  /**
   * The API refuses a template's database as any operation's target; a job naming one anyway (a row
   * written by hand, an API with other ODS_TEMPLATES during an upgrade) fails before touching it.
   */
  const refuseTemplate = (job: JobEntity, ...names: string[]): void => {
    const template = names.find((name) => deps.isTemplateDatabase?.(name));
    if (template !== undefined)
      throw new PermanentJobError(
        `"${template}" is a template's database (ODS_TEMPLATES): no ${job.type} may target it; this job was not run`,
      );
  };

  /** A copy's source and the job's note that it shut it; the note lives on the job row, so the next run sees it. */
  const copySourceOf = (job: JobEntity): CopySource | undefined => {
    if (!job.sourceInstanceId) return undefined;
    const note = async (at: Date | null) => {
      await deps.noteSourceClosed(job.id, at);
      job.sourceClosedAt = at; // a retry of the handler within this run gets the same row object
    };
    return {
      sourceInstanceId: job.sourceInstanceId,
      disconnectSource: job.disconnectSource,
      closedNote: {
        isSet: () => job.sourceClosedAt !== null && job.sourceClosedAt !== undefined,
        set: () => note(new Date()),
        clear: () => note(null),
      },
    };
  };

  /**
   * The API refuses these names; a job is checked again (an API replica with other reserved
   * names, a row written by hand): never adopt a system, reserved, template or staging database.
   */
  const assertAdoptable = (databaseName: string): void => {
    const reserved = reservedNameSet(driver.engine, [deps.templateDatabase, ...(deps.reservedNames ?? [])]);
    const problems = nameRulesFor(driver.engine).validate(databaseName, reserved);
    if (problems.length)
      throw new PermanentJobError(
        `refusing to adopt database "${databaseName}": it ${problems.join('; ')}; it was left untouched`,
      );
  };

  /** Adopt: check and mark the existing database (nothing copied), then register it as a create does. */
  const adopt = async (job: JobEntity): Promise<JobResult> => {
    const request = {
      instanceId: job.instanceId,
      databaseName: required(job.targetDatabaseName, 'target database', job),
    };
    assertAdoptable(request.databaseName);
    const registering = await registryOf(job);
    if (!registering) return unregisteredTenant(job, await driver.adopt(request));
    const [registry, instance] = registering;
    const registration: RegisterRequest = { ...registrationOf(instance, request.databaseName), adopting: true };
    // Refused for good by EdFi_Admin: the instance will be CreateFailed, so the database goes
    // back as it was, unmarked, never dropped (it held data before we came). ownsNothing: a
    // database that is not ours (another marker) is left alone, and EdFi_Admin's reason stands.
    const refused = async (err: unknown): Promise<never> => {
      if (err instanceof PermanentJobError) await driver.release({ ...request, ownsNothing: true });
      throw err;
    };
    await registry.preflight(registration).catch(refused);
    const adopted = await driver.adopt(request);
    return withRegistration(adopted, await registry.register(registration).catch(refused));
  };

  /** A delete's or release's EdFi_Admin step (refused while client links remain, unless forced); none when registration is off. */
  const unregisterFor = async (
    job: JobEntity,
    databaseName: string,
    operation: 'delete' | 'release',
  ): Promise<RegistryResult | undefined> => {
    const registering = await registryOf(job);
    if (!registering) return undefined;
    const [registry, instance] = registering;
    return registry.unregister({
      instanceId: instance.id,
      name: instance.instanceName,
      instanceType: instance.instanceType,
      databaseName,
      knownOdsInstanceId: instance.odsInstanceId,
      force: job.force,
      ...(operation === 'release' ? { operation } : {}),
    });
  };

  const handlers: Record<Operation, JobHandler> = {
    create: async (job) => {
      refuseTemplate(job, required(job.targetDatabaseName, 'target database', job));
      if (job.adopt) return adopt(job);
      const copy = copySourceOf(job);
      if (copy && !job.sourceDatabaseName) throw new PermanentJobError(`copy job ${job.id} has no source database`);
      const request = {
        instanceId: job.instanceId,
        databaseName: required(job.targetDatabaseName, 'target database', job),
        // A copy (or a create from a chosen template) names its source on the job; else the deployment's template.
        templateDatabase: job.sourceDatabaseName ?? deps.templateDatabase,
        stagingName: stagingDatabaseName(job.id),
        ...(copy ? { copy } : {}),
      };
      const registering = await registryOf(job);
      if (!registering) return unregisteredTenant(job, await driver.create(request));
      const [registry, instance] = registering;
      const registration = registrationOf(instance, request.databaseName);
      // Refused for good by EdFi_Admin (an unknown client key, the name taken): the instance
      // will be CreateFailed, so no database of this instance may stay behind, whether this run
      // made it or an earlier one did before a crash. Only a database carrying our marker goes.
      const refused = async (err: unknown): Promise<never> => {
        if (err instanceof PermanentJobError)
          await driver.drop({
            instanceId: job.instanceId,
            databaseName: request.databaseName,
            stagingNames: [request.stagingName],
            ownsNothing: true,
          });
        throw err;
      };
      // What registration would refuse is refused before a clone is made for nothing.
      await registry.preflight(registration).catch(refused);
      const created = await driver.create(request);
      return withRegistration(created, await registry.register(registration).catch(refused));
    },
    rename: async (job) => {
      await refuseIfProtected(job);
      const from = required(job.sourceDatabaseName, 'source database', job);
      const to = required(job.targetDatabaseName, 'target database', job);
      refuseTemplate(job, from, to);
      // Same database: a new instance name only, for EdFi_Admin's Name (api/instances/service.ts).
      const renamed: OperationResult =
        from === to
          ? { outcome: 'already-renamed', warnings: [] }
          : await driver.rename({ instanceId: job.instanceId, from, to });
      const registering = await registryOf(job);
      if (!registering) return unregisteredTenant(job, renamed);
      const [registry, instance] = registering;
      return withRegistration(
        renamed,
        await registry.repoint({
          instanceId: instance.id,
          name: instance.instanceName,
          instanceType: instance.instanceType,
          from,
          to,
          knownOdsInstanceId: instance.odsInstanceId,
        }),
      );
    },
    delete: async (job) => {
      await refuseIfProtected(job);
      const databaseName = required(job.sourceDatabaseName, 'source database', job);
      refuseTemplate(job, databaseName);
      const unregistered = await unregisterFor(job, databaseName, 'delete');
      const createJobIds = await deps.createJobIdsOf(job.instanceId);
      const dropped = await driver.drop({
        instanceId: job.instanceId,
        databaseName,
        stagingNames: createJobIds.map(stagingDatabaseName),
        ownsNothing: mayOwnNoDatabase(job.priorStatus),
      });
      return unregistered ? withRegistration(dropped, unregistered) : unregisteredTenant(job, dropped);
    },
    // Like a delete, but the database is kept: unregister (refused while links remain, unless forced), then unmark.
    release: async (job) => {
      await refuseIfProtected(job);
      const databaseName = required(job.sourceDatabaseName, 'source database', job);
      const unregistered = await unregisterFor(job, databaseName, 'release');
      const released = await driver.release({
        instanceId: job.instanceId,
        databaseName,
        ownsNothing: mayOwnNoDatabase(job.priorStatus),
      });
      return unregistered ? withRegistration(released, unregistered) : unregisteredTenant(job, released);
    },
  };
  const missing = OPERATIONS.filter((op) => typeof handlers[op] !== 'function');
  if (missing.length) throw new Error(`no handler for job types: ${missing.join(', ')}`);
  return handlers;
}
