import { randomUUID } from 'node:crypto';
import { DataSource, EntityManager, In, IsNull, Not } from 'typeorm';
import { recordAudit } from '../../shared/audit';
import { CONSTRAINTS } from '../../shared/database/constraints';
import { type AdminDialect, dialectOf } from '../../shared/database/dialects';
import { DatabaseNameClaimEntity, InstanceEntity, JobEntity } from '../../shared/database/entities';
import { PreparedInsert } from '../../shared/database/prepared-insert';
import { PreparedRead } from '../../shared/database/prepared-read';
import { DRIFT_SQL, DRIFT_STATUS } from '../../shared/inventory/drift';
import type { InstanceInventory, InventoryStore } from '../../shared/inventory/store';
import { type EngineName, nameKey } from '../../shared/database-names';
import {
  ConflictError,
  type FieldErrors,
  NotFoundError,
  TooManyRequestsError,
  ValidationError,
} from '../../shared/errors';
import { contextSetKey, describeContexts, type OdsInstanceContext } from '../../shared/instances/contexts';
import { instanceNameKey } from '../../shared/instances/instance-name';
import {
  canRequest,
  failedOperation,
  GONE_STATUSES,
  hasUnfinishedWork,
  isFinal,
  InstanceStatus,
  Operation,
  phasesOf,
  sqlList,
  UNFINISHED_JOB_STATUSES,
} from '../../shared/instances/status';
import { sleep } from '../../shared/retry';
import { findTemplate, type Templates } from '../../shared/templates';
import type { JobDispatcher } from '../../shared/jobs/dispatcher';
import { PageCursor } from '../http/paging';
import { isUuid } from '../http/resources';
import type { CreateInstanceDto, ListInstancesQuery, UpdateInstanceDto } from './dto';
import { type DeletionPolicy, protectionRefusal } from './protection';

/**
 * The quota's count of a client's unfinished jobs (one parameter: the client id), made once per
 * service: `COUNT(*)` with the statuses written out as the partial index
 * `ix_jobs_unfinished_by_client` has them, so the index answers it whatever plan the server makes
 * (tested on PostgreSQL, with a generic plan; the SQL Server filtered index has the same literal
 * predicate, untested here). TypeORM's `countBy` built it on every call (about 0.6 ms of CPU), as `COUNT(DISTINCT id)`
 * (a sort of every id it counts) with the statuses as parameters, which only a plan made for the
 * values at hand can match to that index.
 */
export function unfinishedJobsCountSql(dataSource: DataSource): string {
  const driver = dataSource.driver;
  const jobs = dataSource.getMetadata(JobEntity);
  const column = (property: string) => driver.escape(jobs.findColumnWithPropertyName(property)!.databaseName);
  return (
    `SELECT COUNT(*) AS ${driver.escape('n')} FROM ${driver.escape(jobs.tableName)} ` +
    `WHERE ${column('requestedBy')} = ${driver.createParameter('client', 0)} AND ${column('status')} IN (${sqlList(UNFINISHED_JOB_STATUSES)})`
  );
}

export interface Caller {
  clientId: string;
  requestId: string;
  clientRequestId?: string;
  /** The tenant the request acts in ('' without tenants): it sees and changes only that tenant's instances. */
  tenant: string;
}

export interface InstanceWithJob {
  instance: InstanceEntity;
  /** The job this request started, or the instance's latest job when reading. */
  job: JobEntity | null;
  /** What the last inventory saw (reads only; docs/inventory.md). */
  inventory?: InstanceInventory;
}

/** Unique-index violations are how the admin database says "conflict"; name which one. */
function conflictFrom(
  dialect: AdminDialect,
  err: unknown,
  contexts?: readonly OdsInstanceContext[] | null,
): ConflictError | undefined {
  switch (dialect.violatedUniqueConstraint(err)) {
    case CONSTRAINTS.activeInstanceName:
      return new ConflictError('An instance with this instanceName already exists.');
    case CONSTRAINTS.contextSet:
      return new ConflictError(
        // A bulk create that lost a race after its own check (assertNoneTaken) cannot say which item's.
        `Another instance of this tenant already has ${contexts?.length ? `the contexts ${describeContexts(contexts)}` : 'these contexts'} ` +
          '(compared case-insensitively); the ODS/API could not tell them apart.',
      );
    case CONSTRAINTS.databaseNameClaim:
      return new ConflictError('This databaseName is already in use by another instance.');
    case CONSTRAINTS.oneUnfinishedJob:
      return new ConflictError('This instance already has an unfinished job; wait for it to finish.');
    default:
      return undefined;
  }
}

/** The statuses a list asks for, as a condition on `alias.status`; none with includeDeleted=true. */
function statusFilter(
  query: Pick<ListInstancesQuery, 'status' | 'includeDeleted'>,
  alias: string,
): [string, Record<string, unknown>] | undefined {
  if (query.status) return [`${alias}.status = :status`, { status: query.status }];
  if (query.includeDeleted !== 'true') return [`${alias}.status NOT IN (:...gone)`, { gone: [...GONE_STATUSES] }];
  return undefined;
}

/**
 * Carries a dry run's result out of its transaction: thrown after every check and write, so the
 * transaction rolls back and nothing (instance, job, name claim, audit or event row) is kept.
 */
class DryRunRollback<T> extends Error {
  constructor(readonly result: T) {
    super('dry run: rolled back');
  }
}

export interface WriteOptions {
  /**
   * Run every check and write of the request in its transaction, then roll it back and enqueue
   * nothing: the caller learns what would be recorded, or the same error the request would get.
   */
  dryRun?: boolean;
}

/** One audit row for a request that creates many instances (a rollover), beside each create's own. */
export interface BatchAudit {
  action: string;
  details: Record<string, unknown>;
}

/** Tries of a transaction that lost a deadlock or serialization race before the caller gets a 409. */
const RACE_ATTEMPTS = 4;

export interface InstanceServiceOptions {
  engine: EngineName;
  /** A client with this many queued or running jobs gets 429 for further writes. */
  unfinishedJobsPerClient: number;
  /** INSTANCE_DELETES_ENABLED: false refuses every delete. */
  deletesEnabled: boolean;
  /** What a create may copy (ODS_TEMPLATES): the job records the chosen template's database. */
  templates: Templates;
}

/**
 * The API side of the request → job → worker flow. Every change is one transaction that
 * writes the instance, its job and an audit row; the job is handed to the queue after commit.
 */
export class InstanceService {
  /** What GET /admin/instances/{id} reads on every poll: SQL made once (shared/database/prepared-read.ts). */
  private readonly reads: {
    instance: PreparedRead<InstanceEntity, 'id' | 'tenant'>;
    latestJob: PreparedRead<JobEntity, 'instanceId'>;
  };
  /** The quota's count (unfinishedJobsCountSql), made on first use. */
  private unfinishedCountSql?: string;
  /** The rows every request that makes a job writes: SQL made once (shared/database/prepared-insert.ts). */
  private readonly inserts: {
    instance: PreparedInsert<InstanceEntity>;
    claim: PreparedInsert<DatabaseNameClaimEntity>;
    job: PreparedInsert<JobEntity>;
  };

  constructor(
    private readonly dataSource: DataSource,
    private readonly dispatcher: JobDispatcher,
    private readonly inventory: InventoryStore,
    private readonly options: InstanceServiceOptions,
  ) {
    this.inserts = {
      instance: new PreparedInsert(dataSource, InstanceEntity),
      claim: new PreparedInsert(dataSource, DatabaseNameClaimEntity),
      job: new PreparedInsert(dataSource, JobEntity),
    };
    this.reads = {
      instance: new PreparedRead(dataSource, InstanceEntity, 'i', ['id', 'tenant'], (qb) =>
        qb.where('i.id = :id').andWhere('i.tenant = :tenant'),
      ),
      latestJob: new PreparedRead(dataSource, JobEntity, 'j', ['instanceId'], (qb) =>
        qb.where('j.instance_id = :instanceId').orderBy('j.created_at', 'DESC').limit(1),
      ),
    };
  }

  /** `dto.databaseName` is the name to create: given, or derived by ContextMode. */
  async create(dto: CreateInstanceDto, caller: Caller, options: WriteOptions = {}): Promise<InstanceWithJob> {
    this.assertCopyRequestValid(dto);
    const instance = this.newInstance(dto, caller, new Date());
    const job = await this.inTransaction({ contexts: instance.contexts ?? [], dryRun: options.dryRun }, async (m) => {
      const source = await this.copySourceOf(m, dto, caller);
      await this.assertWithinQuota(m, caller);
      await this.inserts.instance.insert(m, instance);
      await this.claim(m, instance.id, dto.databaseName);
      return this.addCreateJob(m, instance, source, dto, caller);
    });
    if (!options.dryRun) await this.dispatch(job);
    return { instance, job };
  }

  /**
   * Many creates, all or nothing: every instance, name claim, job and audit row in one
   * transaction, after the names were checked against the live instances (409 naming the
   * items that conflict). The DTOs were validated and checked against each other by the caller.
   */
  async createMany(
    dtos: CreateInstanceDto[],
    caller: Caller,
    options: WriteOptions & { batchAudit?: BatchAudit } = {},
  ): Promise<{ instance: InstanceEntity; job: JobEntity }[]> {
    const now = new Date();
    for (const dto of dtos) this.assertCopyRequestValid(dto);
    const instances = dtos.map((dto) => this.newInstance(dto, caller, now));
    const accepted = await this.inTransaction({ dryRun: options.dryRun }, async (m) => {
      await this.assertWithinQuota(m, caller, instances.length);
      await this.assertNoneTaken(m, instances, caller.tenant);
      const created: { instance: InstanceEntity; job: JobEntity }[] = [];
      for (const [i, instance] of instances.entries()) {
        const dto = dtos[i]!;
        const source = await this.copySourceOf(m, dto, caller);
        await m.insert(InstanceEntity, instance);
        await this.claim(m, instance.id, instance.databaseName);
        created.push({ instance, job: await this.addCreateJob(m, instance, source, dto, caller) });
      }
      if (options.batchAudit) {
        await recordAudit(m, {
          actor: caller.clientId,
          action: options.batchAudit.action,
          outcome: 'accepted',
          requestId: caller.requestId,
          clientRequestId: caller.clientRequestId,
          details: {
            ...options.batchAudit.details,
            // The instances are named by their own create rows, which carry the same requestId.
            created: instances.length,
            ...(caller.tenant ? { tenant: caller.tenant } : {}),
          },
        });
      }
      return created;
    });
    // Each enqueue waits at most ENQUEUE_TIMEOUT_MS and never fails the request (JobDispatcher).
    if (!options.dryRun) await Promise.all(accepted.map(({ job }) => this.dispatch(job)));
    return accepted;
  }

  /** A dry run's `job` is the job the request would start: null when it would start none (a new instanceName only). */
  async update(
    id: string,
    dto: UpdateInstanceDto,
    caller: Caller,
    options: WriteOptions = {},
  ): Promise<InstanceWithJob> {
    let started: JobEntity | null = null;
    const result = await this.inTransaction({ dryRun: options.dryRun }, async (m) => {
      const instance = await this.lockForChange(m, id, caller.tenant);
      const renames =
        (dto.instanceName !== undefined && dto.instanceName !== instance.instanceName) ||
        (dto.databaseName !== undefined && dto.databaseName !== instance.databaseName);
      if (renames) {
        this.assertNotRefused('rename', instance);
        await this.assertNotBeingCopied(m, instance, 'renamed');
      }
      let job: JobEntity | null = null;
      const changes: Record<string, unknown> = {};
      if (dto.instanceName !== undefined && dto.instanceName !== instance.instanceName) {
        changes.instanceName = { from: instance.instanceName, to: dto.instanceName };
        instance.instanceName = dto.instanceName;
        instance.instanceNameKey = instanceNameKey(dto.instanceName);
      }
      if (dto.databaseName !== undefined && dto.databaseName !== instance.databaseName) {
        this.assertRequestable('rename', instance.status);
        await this.assertWithinQuota(m, caller);
        if (nameKey(dto.databaseName) !== nameKey(instance.databaseName))
          await this.claim(m, instance.id, dto.databaseName);
        job = await this.addJob(m, instance, 'rename', caller, {
          source: instance.databaseName,
          target: dto.databaseName,
        });
        instance.status = phasesOf('rename').pending;
        changes.databaseName = { from: instance.databaseName, to: dto.databaseName };
      }
      // A registered instance's new name must reach EdFi_Admin (OdsInstances.Name): only the
      // worker writes there, so the change goes through a rename job that keeps the database.
      if (!job && changes.instanceName && instance.odsInstanceId !== null && canRequest('rename', instance.status)) {
        await this.assertWithinQuota(m, caller);
        job = await this.addJob(m, instance, 'rename', caller, {
          source: instance.databaseName,
          target: instance.databaseName,
        });
        instance.status = phasesOf('rename').pending;
      }
      instance.updatedAt = new Date();
      await m.update(
        InstanceEntity,
        { id },
        {
          instanceName: instance.instanceName,
          instanceNameKey: instance.instanceNameKey,
          status: instance.status,
          updatedAt: instance.updatedAt,
        },
      );
      if (!job && Object.keys(changes).length) {
        await recordAudit(m, {
          actor: caller.clientId,
          action: 'instance.update',
          outcome: 'succeeded',
          instanceId: id,
          requestId: caller.requestId,
          clientRequestId: caller.clientRequestId,
          details: changes,
        });
      }
      started = job;
      return { instance, job: job ?? (await this.latestJob(m, id)) };
    });
    if (options.dryRun) return { instance: result.instance, job: started };
    if (started) await this.dispatch(started);
    return result;
  }

  /**
   * `force`: the worker may also remove the EdFi_Admin links (client links, derivatives) that
   * would block it. `dropDatabase`: as the request said it (undefined when it did not): a
   * DELETE of an adopted instance, or one that says `false`, releases rather than drops.
   */
  async delete(
    id: string,
    caller: Caller,
    force = false,
    options: WriteOptions & { dropDatabase?: boolean } = {},
  ): Promise<InstanceWithJob> {
    const result = await this.inTransaction({ dryRun: options.dryRun }, async (m) => {
      const instance = await this.lockForChange(m, id, caller.tenant);
      const op: Operation = (options.dropDatabase ?? !instance.adopted) ? 'delete' : 'release';
      return this.removeInTransaction(m, instance, op, caller, force);
    });
    if (!options.dryRun) await this.dispatch(result.job);
    return result;
  }

  /** POST …/release: the database is kept, without this instance's marker; the instance is kept as history. */
  async release(id: string, caller: Caller, force = false, options: WriteOptions = {}): Promise<InstanceWithJob> {
    const result = await this.inTransaction({ dryRun: options.dryRun }, async (m) =>
      this.removeInTransaction(m, await this.lockForChange(m, id, caller.tenant), 'release', caller, force),
    );
    if (!options.dryRun) await this.dispatch(result.job);
    return result;
  }

  /** A delete or a release, requested: refused while protected or busy, then the job, the pending status and the audit row. */
  private async removeInTransaction(
    m: EntityManager,
    instance: InstanceEntity,
    op: 'delete' | 'release',
    caller: Caller,
    force: boolean,
  ): Promise<{ instance: InstanceEntity; job: JobEntity }> {
    this.assertNotRefused(op, instance);
    this.assertRequestable(op, instance.status);
    await this.assertNotBeingCopied(m, instance, op === 'delete' ? 'deleted' : 'released');
    await this.assertWithinQuota(m, caller);
    const job = await this.addJob(m, instance, op, caller, { source: instance.databaseName }, undefined, force);
    instance.status = phasesOf(op).pending;
    instance.updatedAt = new Date();
    await m.update(InstanceEntity, { id: instance.id }, { status: instance.status, updatedAt: instance.updatedAt });
    return { instance, job };
  }

  /** Ids of the instance's create jobs, oldest first: a delete also drops the staging copy of each that a crash left. */
  async createJobIdsOf(instanceId: string): Promise<string[]> {
    const rows = await this.dataSource
      .getRepository(JobEntity)
      .find({ where: { instanceId, type: 'create' }, select: { id: true }, order: { createdAt: 'ASC' } });
    return rows.map((r) => r.id);
  }

  /**
   * Runs again the operation that left the instance `*Failed` (once an operator fixed the
   * cause): a new job of the same type, with the failed job's database names, under the same
   * rules as any request (one unfinished job, name claims, quota, audit).
   */
  async retry(id: string, caller: Caller): Promise<InstanceWithJob> {
    const result = await this.inTransaction({}, async (m) => {
      const instance = await this.lockForChange(m, id, caller.tenant);
      const op = failedOperation(instance.status);
      if (!op) {
        throw new ConflictError(
          `Only a failed create, rename, delete or release can be retried; this instance is ${instance.status}.`,
        );
      }
      this.assertNotRefused(op, instance);
      await this.assertWithinQuota(m, caller);
      const failed = await m.getRepository(JobEntity).findOne({
        where: { instanceId: id, type: op, status: 'failed' },
        order: { createdAt: 'DESC' },
      });
      if (!failed) throw new ConflictError(`No failed ${op} job of this instance to retry.`);
      // A failed rename gave back its new name: claim it again (409 if someone took it meanwhile).
      if (
        op === 'rename' &&
        failed.targetDatabaseName &&
        nameKey(failed.targetDatabaseName) !== nameKey(instance.databaseName)
      ) {
        await this.claim(m, instance.id, failed.targetDatabaseName);
      }
      // A failed copy copies again from its source as it is now (renamed meanwhile, perhaps), under the same checks.
      const copySource = failed.sourceInstanceId
        ? await this.lockCopySource(m, failed.sourceInstanceId, caller.tenant)
        : null;
      const names = {
        ...(copySource
          ? { source: copySource.databaseName }
          : failed.sourceDatabaseName
            ? { source: failed.sourceDatabaseName }
            : {}),
        ...(failed.targetDatabaseName ? { target: failed.targetDatabaseName } : {}),
      };
      const copy = copySource
        ? { sourceInstanceId: copySource.id, disconnectSource: failed.disconnectSource }
        : undefined;
      // The status the failed job started from decides what it may touch (a delete after a failed create).
      // A forced delete is retried forced: the retry is the same request again.
      const job = await this.addJob(
        m,
        instance,
        op,
        caller,
        names,
        { priorStatus: failed.priorStatus, retryOf: failed.id },
        failed.force,
        copy,
        failed.adopt,
      );
      instance.status = phasesOf(op).pending;
      instance.updatedAt = new Date();
      await m.update(InstanceEntity, { id }, { status: instance.status, updatedAt: instance.updatedAt });
      return { instance, job };
    });
    await this.dispatch(result.job);
    return result;
  }

  /**
   * Sets or clears the instance's protection (no job: nothing changes on the database server),
   * audited when it changes. Protecting waits for the instance's unfinished job to end, so a
   * protected instance never has a delete or rename queued or running.
   */
  async setProtection(id: string, protect: boolean, caller: Caller): Promise<InstanceWithJob> {
    return this.inTransaction({}, async (m) => {
      const instance = await this.lockForChange(m, id, caller.tenant);
      if (instance.protected !== protect) {
        if (protect && hasUnfinishedWork(instance.status)) {
          throw new ConflictError(
            `This instance has an unfinished job (status ${instance.status}); protect it once that job has finished.`,
          );
        }
        instance.protected = protect;
        instance.updatedAt = new Date();
        await m.update(InstanceEntity, { id }, { protected: protect, updatedAt: instance.updatedAt });
        await recordAudit(m, {
          actor: caller.clientId,
          action: protect ? 'instance.protect' : 'instance.unprotect',
          outcome: 'succeeded',
          instanceId: id,
          requestId: caller.requestId,
          clientRequestId: caller.clientRequestId,
          details: { protected: { from: !protect, to: protect }, instanceName: instance.instanceName },
        });
      }
      return { instance, job: await this.latestJob(m, id) };
    });
  }

  /** INSTANCE_DELETES_ENABLED, for the representation's links and the settings. */
  get deletionPolicy(): DeletionPolicy {
    return { deletesEnabled: this.options.deletesEnabled };
  }

  /**
   * Another tenant's instance is not found, as if it did not exist. The instance, its latest job
   * and the inventory run its facts come from are read at once (a job read for an instance that
   * turns out not to be the tenant's is dropped unseen).
   */
  async get(id: string, tenant: string): Promise<InstanceWithJob> {
    if (!isUuid(id)) throw new NotFoundError(`No instance with id ${id.slice(0, 64)}.`);
    const [instance, job, factsRun] = await Promise.all([
      this.reads.instance.one({ id, tenant }),
      this.reads.latestJob.one({ instanceId: id }),
      this.inventory.factsRun(),
    ]);
    if (!instance) throw new NotFoundError(`No instance with id ${id.slice(0, 64)}.`);
    const inventory = await this.inventory.forInstances([instance], new Date(), factsRun);
    return { instance, job, inventory: inventory.get(id) };
  }

  /**
   * One page of the tenant's instances and the count of all that match (docs/benchmarks.md,
   * "Listing at scale"): the page's ids alone, which an index on (tenant, created_at, id) including
   * status answers without reading the table, from an offset or after a cursor (keyset: the index
   * is entered at the cursor, so a far page costs what the first does); then those rows by primary
   * key; and the count on another connection at the same time as the ids. The count of a list
   * filtered by tenant and status alone is the sum of a few rows of instance_counts, which
   * triggers keep (InstanceCounts1764260000000); any other filter counts the matching rows.
   * `next` is where the page after this one starts, if there is one.
   */
  async list(
    query: ListInstancesQuery,
    tenant: string,
  ): Promise<{
    items: InstanceEntity[];
    total: number;
    next?: PageCursor;
    inventory: Map<string, InstanceInventory>;
  }> {
    const repo = this.dataSource.getRepository(InstanceEntity);
    const factsRunning = this.inventory.factsRun();
    const matching = repo.createQueryBuilder('i').where('i.tenant = :tenant', { tenant });
    const statuses = statusFilter(query, 'i');
    if (statuses) matching.andWhere(...statuses);
    // A literal, not a parameter: SQL Server uses a filtered index only for a predicate it can see.
    if (query.protected) {
      const value = dialectOf(this.dataSource).booleanLiteral(query.protected === 'true');
      matching.andWhere(`i.${matching.escape('protected')} = ${value}`);
    }
    if (query.drift) {
      // The drift rule as SQL (shared/inventory/drift.ts); before any run no instance drifts.
      const factsRun = await factsRunning;
      const params = { driftStatus: DRIFT_STATUS, runStart: factsRun?.startedAt ?? new Date(0) };
      if (query.drift === 'true') matching.andWhere(factsRun ? `(${DRIFT_SQL})` : '1 = 0', params);
      else if (factsRun) matching.andWhere(`NOT (${DRIFT_SQL})`, params);
    }
    if (query.instanceName) {
      // Searched on the folded form, so a search finds the names that look like it.
      const pattern = `%${instanceNameKey(query.instanceName).replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      matching.andWhere(`i.instance_name_key LIKE :pattern ESCAPE '\\'`, { pattern });
    }
    const countedByTriggers = !query.protected && !query.drift && !query.instanceName;
    const direction = query.order === 'desc' ? 'DESC' : 'ASC';
    const page = matching.clone().select('i.id', 'id');
    if (query.after) {
      // (created_at, id) beyond the cursor's, written so that created_at bounds the index range in both dialects.
      const [beyond, orEqual] = direction === 'ASC' ? ['>', '>='] : ['<', '<='];
      page.andWhere(
        `i.created_at ${orEqual} :afterTime AND (i.created_at ${beyond} :afterTime OR i.id ${beyond} :afterId)`,
        {
          afterTime: dialectOf(this.dataSource).timeParameter(query.after.createdAt),
          afterId: query.after.id,
        },
      );
    }
    page
      .orderBy('i.created_at', direction)
      .addOrderBy('i.id', direction)
      .offset(query.after ? 0 : query.offset)
      .limit(query.limit + 1); // one more: is there a next page?
    const [pageIds, total, factsRun] = await Promise.all([
      page.getRawMany<{ id: string }>(),
      countedByTriggers
        ? this.countByStatus(tenant, query)
        : matching
            .clone()
            .select('COUNT(*)', 'total')
            .getRawOne<{ total: number | string }>()
            .then((r) => Number(r?.total ?? 0)),
      factsRunning,
    ]);
    // SQL Server answers a raw uniqueidentifier in capitals; the entity's ids are lower case (uuidColumn).
    const ids = pageIds.slice(0, query.limit).map((r) => r.id.toLowerCase());
    const byId = new Map((ids.length ? await repo.findBy({ id: In(ids) }) : []).map((i) => [i.id, i]));
    // Rows are read again by id (instance rows are never deleted): one whose status changed in between shows the new one.
    const items = ids.flatMap((id) => byId.get(id) ?? []);
    const last = items.at(-1);
    return {
      items,
      total,
      next: pageIds.length > query.limit && last ? PageCursor.of(last) : undefined,
      inventory: await this.inventory.forInstances(items, new Date(), factsRun),
    };
  }

  /** The tenant's instances in the statuses a list asks for, from the counts the triggers keep. */
  private async countByStatus(tenant: string, query: ListInstancesQuery): Promise<number> {
    const counts = this.dataSource
      .createQueryBuilder()
      .select('COALESCE(SUM(c.n), 0)', 'total')
      .from('instance_counts', 'c')
      .where('c.tenant = :tenant', { tenant });
    const statuses = statusFilter(query, 'c');
    if (statuses) counts.andWhere(...statuses);
    const counted = await counts.getRawOne<{ total: number | string }>();
    return Number(counted?.total ?? 0);
  }

  /** The tenant's instances that are not gone (Deleted, Released), oldest first (what a rollover plans from). */
  async liveInstances(tenant: string): Promise<InstanceEntity[]> {
    return this.dataSource.getRepository(InstanceEntity).find({
      where: { tenant, status: Not(In([...GONE_STATUSES])) },
      order: { createdAt: 'ASC', id: 'ASC' },
    });
  }

  /** Which of these database names (any case) an instance, live or not yet released, claims. */
  async claimedDatabaseNames(databaseNames: string[]): Promise<Set<string>> {
    if (!databaseNames.length) return new Set();
    const claims = await this.dataSource
      .getRepository(DatabaseNameClaimEntity)
      .find({ where: { nameKey: In(databaseNames.map(nameKey)) } });
    return new Set(claims.map((c) => c.nameKey));
  }

  async jobsOf(id: string, tenant: string): Promise<JobEntity[]> {
    const exists = isUuid(id) && (await this.dataSource.getRepository(InstanceEntity).existsBy({ id, tenant }));
    if (!exists) throw new NotFoundError(`No instance with id ${id.slice(0, 64)}.`);
    return this.dataSource.getRepository(JobEntity).find({ where: { instanceId: id }, order: { createdAt: 'DESC' } });
  }

  /** A create job copies its template's database (`source`) to the instance's (`target`). */
  private createNames(instance: InstanceEntity): { source: string; target: string } {
    const template = findTemplate(this.options.templates, instance.template ?? this.options.templates.defaultName);
    if (!template) throw new Error(`template ${instance.template} is not configured`); // resolved by the routes first
    return { source: template.database, target: instance.databaseName };
  }

  /** The instance a create copies (row-locked, checked), or null for a create from a template. */
  private copySourceOf(m: EntityManager, dto: CreateInstanceDto, caller: Caller): Promise<InstanceEntity | null> {
    return dto.sourceInstanceId ? this.lockCopySource(m, dto.sourceInstanceId, caller.tenant) : Promise.resolve(null);
  }

  /** A create job copies its template's database, or for a copy its source's (`source`), to the instance's (`target`). */
  private addCreateJob(
    m: EntityManager,
    instance: InstanceEntity,
    source: InstanceEntity | null,
    dto: CreateInstanceDto,
    caller: Caller,
  ): Promise<JobEntity> {
    // Adopt: nothing is copied; the job names only the database it takes.
    if (dto.adopt === true)
      return this.addJob(
        m,
        instance,
        'create',
        caller,
        { target: instance.databaseName },
        undefined,
        false,
        undefined,
        true,
      );
    if (!source) return this.addJob(m, instance, 'create', caller, this.createNames(instance));
    const copy = { sourceInstanceId: source.id, disconnectSource: dto.disconnectSource === true };
    return this.addJob(
      m,
      instance,
      'create',
      caller,
      { source: source.databaseName, target: instance.databaseName },
      undefined,
      false,
      copy,
    );
  }

  private newInstance(dto: CreateInstanceDto, caller: Caller, now: Date): InstanceEntity {
    const contexts = dto.odsInstanceContexts ?? [];
    return Object.assign(new InstanceEntity(), {
      id: randomUUID(),
      instanceName: dto.instanceName,
      instanceNameKey: instanceNameKey(dto.instanceName),
      databaseName: dto.databaseName,
      previousDatabaseName: null,
      status: phasesOf('create').pending,
      engine: this.options.engine,
      lastError: null,
      createdBy: caller.clientId,
      createdAt: now,
      updatedAt: now,
      deletedAt: null,
      tenant: caller.tenant,
      instanceType: dto.instanceType ?? null,
      contexts: contexts.map((c) => ({ contextKey: c.contextKey, contextValue: c.contextValue })),
      contextSetKey: contextSetKey(contexts),
      odsInstanceId: null,
      apiClientKeys: dto.apiClientKeys ?? [],
      protected: false,
      // A copy starts from its source's database, an adopted instance from its own: no template.
      template:
        dto.sourceInstanceId || dto.adopt ? null : (dto.template ?? this.options.templates.defaultName).toLowerCase(),
      sourceInstanceId: dto.sourceInstanceId ?? null,
      adopted: dto.adopt === true,
    });
  }

  /**
   * What a copy request may ask on this deployment's engine, checked before anything is read or
   * written (400, nothing recorded). PostgreSQL copies only a database nobody is connected to, so the
   * caller must agree that the source's sessions are ended; the command engine runs a script that
   * knows only the template, so it cannot copy.
   */
  private assertCopyRequestValid(dto: CreateInstanceDto): void {
    const refuse = (field: string, message: string): never => {
      throw new ValidationError('The request body is invalid.', { [field]: [message] });
    };
    if (!dto.sourceInstanceId) {
      if (dto.disconnectSource !== undefined)
        refuse('disconnectSource', 'disconnectSource applies only to a copy: give sourceInstanceId too.');
      return;
    }
    if (this.options.engine === 'command')
      refuse(
        'sourceInstanceId',
        "This deployment's engine runs an external command that creates from the template only; it cannot copy an instance.",
      );
    if (this.options.engine === 'postgres' && dto.disconnectSource !== true)
      refuse(
        'disconnectSource',
        "PostgreSQL copies only a database nobody is connected to: set disconnectSource to true to agree that, while it is copied, the source's database is closed to new connections and its sessions are ended (it is reopened afterwards, whatever happens).",
      );
  }

  /**
   * The instance a copy starts from, row-locked as for a change of it: a rename or delete of it
   * waits for this transaction and then finds the copy job (assertNotBeingCopied); a copy that
   * waited for theirs finds the source's new status. So either order ends in one 409.
   */
  private async lockCopySource(m: EntityManager, sourceInstanceId: string, tenant: string): Promise<InstanceEntity> {
    const source = await m
      .getRepository(InstanceEntity)
      .createQueryBuilder('i')
      .setLock('pessimistic_write')
      .where('i.id = :id', { id: sourceInstanceId })
      .andWhere('i.tenant = :tenant', { tenant })
      .getOne();
    if (!source || isFinal(source.status)) {
      throw new ValidationError('The request body is invalid.', {
        sourceInstanceId: [`No instance with id ${sourceInstanceId} to copy in this tenant.`],
      });
    }
    if (hasUnfinishedWork(source.status))
      throw new ConflictError(
        `The source instance ${source.id} has an unfinished job (status ${source.status}); copy it once that job has finished.`,
      );
    if (source.status !== 'Created')
      throw new ConflictError(
        `The source instance ${source.id} is ${source.status}; only a Created instance can be copied.`,
      );
    const copying = await this.copyJobHolding(m, source.id);
    if (copying)
      throw new ConflictError(
        `The source instance ${source.id} is being copied by job ${copying.id}; copy it once that job has finished.`,
      );
    return source;
  }

  /** A copy job that still needs the source: unfinished, or one that shut the source and has not reopened it yet. */
  private async copyJobHolding(m: EntityManager, instanceId: string): Promise<JobEntity | null> {
    return m.getRepository(JobEntity).findOne({
      where: [
        { sourceInstanceId: instanceId, status: In([...UNFINISHED_JOB_STATUSES]) },
        { sourceInstanceId: instanceId, sourceClosedAt: Not(IsNull()) },
      ],
      select: { id: true },
    });
  }

  /** The source of a copy under way keeps its database and name until the copy is done (the caller holds its row lock). */
  private async assertNotBeingCopied(m: EntityManager, instance: InstanceEntity, verb: string): Promise<void> {
    const copying = await this.copyJobHolding(m, instance.id);
    if (copying)
      throw new ConflictError(
        `Instance ${instance.id} is being copied by job ${copying.id}; it cannot be ${verb} until that job has finished.`,
      );
  }

  /**
   * A bulk create's names and contexts against the live instances of the tenant and every name
   * claim: 409 naming each item that conflicts, as a single create gets for one. The unique
   * indexes still refuse what a concurrent request takes between this check and the inserts.
   */
  private async assertNoneTaken(m: EntityManager, instances: InstanceEntity[], tenant: string): Promise<void> {
    const live = { tenant, status: Not(In([...GONE_STATUSES])) };
    const names = new Set(
      (
        await m.getRepository(InstanceEntity).find({
          select: { instanceNameKey: true },
          where: { ...live, instanceNameKey: In(instances.map((i) => i.instanceNameKey)) },
        })
      ).map((i) => i.instanceNameKey),
    );
    const claimed = new Set(
      (
        await m
          .getRepository(DatabaseNameClaimEntity)
          .find({ where: { nameKey: In(instances.map((i) => nameKey(i.databaseName))) } })
      ).map((c) => c.nameKey),
    );
    const contextKeys = instances.flatMap((i) => (i.contextSetKey === null ? [] : [i.contextSetKey]));
    const contextSets = new Set(
      contextKeys.length
        ? (
            await m.getRepository(InstanceEntity).find({
              select: { contextSetKey: true },
              where: { ...live, contextSetKey: In(contextKeys) },
            })
          ).map((i) => i.contextSetKey)
        : [],
    );
    const errors: FieldErrors = {};
    instances.forEach((instance, i) => {
      const add = (field: string, message: string) => (errors[`instances[${i}].${field}`] ??= []).push(message);
      if (names.has(instance.instanceNameKey))
        add('instanceName', 'An instance with this instanceName already exists.');
      if (claimed.has(nameKey(instance.databaseName)))
        add('databaseName', 'This databaseName is already in use by another instance.');
      if (instance.contextSetKey !== null && contextSets.has(instance.contextSetKey))
        add(
          'odsInstanceContexts',
          `Another instance of this tenant already has the contexts ${describeContexts(instance.contexts ?? [])} ` +
            '(compared case-insensitively); the ODS/API could not tell them apart.',
        );
    });
    const conflicting = new Set(Object.keys(errors).map((k) => k.slice(0, k.indexOf('.')))).size;
    if (conflicting) {
      const error = new ConflictError(
        `${conflicting} of the ${instances.length} instances conflict with existing ones; nothing was created.`,
      );
      error.extensions.errors = errors;
      throw error;
    }
  }

  /**
   * One transaction; run again when it lost a deadlock or serialization race to a concurrent
   * request (a create and a rename taking the same names in opposite order), then 409.
   */
  private async inTransaction<T>(
    how: { contexts?: readonly OdsInstanceContext[]; dryRun?: boolean },
    work: (m: EntityManager) => Promise<T>,
  ): Promise<T> {
    const dialect = dialectOf(this.dataSource);
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.dataSource.transaction(async (m) => {
          const result = await work(m);
          if (how.dryRun) throw new DryRunRollback(result);
          return result;
        });
      } catch (err) {
        if (err instanceof DryRunRollback) return err.result as T;
        if (!dialect.isSerializationFailure(err)) throw conflictFrom(dialect, err, how.contexts) ?? err;
        if (attempt >= RACE_ATTEMPTS) {
          throw new ConflictError(
            'This request collided with a concurrent change of the same instance or names; send it again.',
          );
        }
        await sleep(10 + Math.random() * 40 * attempt);
      }
    }
  }

  /**
   * A cap on each client's queued and running jobs, so one client (or its leaked credentials)
   * cannot queue hours of clones at once. The count is not locked: serialising a client's
   * writes would make a burst queue on the admin pool. So requests in flight at the same
   * moment may pass it together: the cap can be exceeded by at most their number (bounded by
   * the admin pool of each API process), never by a sequence of requests.
   */
  private async assertWithinQuota(m: EntityManager, caller: Caller, adding = 1): Promise<void> {
    const [row] = await m.query<{ n: string | number }[]>(
      (this.unfinishedCountSql ??= unfinishedJobsCountSql(this.dataSource)),
      [caller.clientId],
    );
    const unfinished = Number(row?.n ?? 0);
    const limit = this.options.unfinishedJobsPerClient;
    if (unfinished + adding > limit) {
      throw new TooManyRequestsError(
        `This client already has ${unfinished} queued or running jobs (the limit is ${limit})` +
          (adding > 1 ? `; the ${adding} this request would add do not fit` : '') +
          '; wait for some to finish.',
      ).retryAfter(10);
    }
  }

  /** Row lock: two requests on one instance are serialised, the second sees the first's job. */
  private async lockForChange(m: EntityManager, id: string, tenant: string): Promise<InstanceEntity> {
    const instance = isUuid(id)
      ? await m
          .getRepository(InstanceEntity)
          .createQueryBuilder('i')
          .setLock('pessimistic_write')
          .where('i.id = :id', { id })
          .andWhere('i.tenant = :tenant', { tenant })
          .getOne()
      : null;
    if (!instance) throw new NotFoundError(`No instance with id ${id.slice(0, 64)}.`);
    if (isFinal(instance.status))
      throw new ConflictError(`This instance has been ${instance.status === 'Released' ? 'released' : 'deleted'}.`);
    return instance;
  }

  /** The deployment's switch and the instance's protection, before its status is even considered. */
  private assertNotRefused(op: Operation, instance: InstanceEntity): void {
    const refusal = protectionRefusal(op, instance, this.deletionPolicy);
    if (refusal) throw new ConflictError(refusal);
  }

  private assertRequestable(op: Operation, status: InstanceStatus): void {
    if (canRequest(op, status)) return;
    throw new ConflictError(
      hasUnfinishedWork(status)
        ? `This instance already has an unfinished job (status ${status}); wait for it to finish.`
        : `An instance in status ${status} cannot be asked to ${op}.`,
    );
  }

  private async claim(m: EntityManager, instanceId: string, databaseName: string): Promise<void> {
    await this.inserts.claim.insert(
      m,
      Object.assign(new DatabaseNameClaimEntity(), {
        nameKey: nameKey(databaseName),
        instanceId,
        createdAt: new Date(),
      }),
    );
  }

  private async addJob(
    m: EntityManager,
    instance: InstanceEntity,
    type: Operation,
    caller: Caller,
    names: { source?: string; target?: string },
    retry?: { priorStatus: InstanceStatus | null; retryOf: string },
    force = false,
    copy?: { sourceInstanceId: string; disconnectSource: boolean },
    adopt = false,
  ): Promise<JobEntity> {
    const now = new Date();
    const job: JobEntity = Object.assign(new JobEntity(), {
      id: randomUUID(),
      instanceId: instance.id,
      type,
      status: 'queued',
      attempts: 0,
      sourceDatabaseName: names.source ?? null,
      targetDatabaseName: names.target ?? null,
      priorStatus: retry ? retry.priorStatus : type === 'create' ? null : instance.status,
      error: null,
      requestId: caller.requestId,
      requestedBy: caller.clientId,
      workerId: null,
      createdAt: now,
      updatedAt: now,
      startedAt: null,
      finishedAt: null,
      force,
      sourceInstanceId: copy?.sourceInstanceId ?? null,
      disconnectSource: copy?.disconnectSource ?? false,
      sourceClosedAt: null,
      adopt,
    });
    await this.inserts.job.insert(m, job);
    await recordAudit(m, {
      actor: caller.clientId,
      action: `instance.${type}`,
      outcome: 'accepted',
      instanceId: instance.id,
      jobId: job.id,
      requestId: caller.requestId,
      clientRequestId: caller.clientRequestId,
      details: {
        ...names,
        instanceName: instance.instanceName,
        ...(instance.tenant ? { tenant: instance.tenant } : {}),
        ...(retry ? { retryOf: retry.retryOf } : {}),
        ...(force ? { force } : {}),
        ...(copy ? { copyOf: copy.sourceInstanceId, disconnectSource: copy.disconnectSource } : {}),
        ...(adopt ? { adopt } : {}),
      },
    });
    return job;
  }

  private async latestJob(m: EntityManager, instanceId: string): Promise<JobEntity | null> {
    return m.getRepository(JobEntity).findOne({ where: { instanceId }, order: { createdAt: 'DESC' } });
  }

  private async dispatch(job: JobEntity): Promise<void> {
    await this.dispatcher.dispatch({
      id: job.id,
      type: job.type,
      instanceId: job.instanceId,
      requestId: job.requestId,
    });
  }
}
