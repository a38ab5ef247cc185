import { randomUUID } from 'node:crypto';
import { type DataSource, In, LessThan } from 'typeorm';
import { InstanceEntity, InventoryDatabaseEntity, InventoryRunEntity } from '../database/entities';
import { GONE_STATUSES } from '../instances/status';
import { entityHydrator, PreparedRead, preparedStatement } from '../database/prepared-read';
import {
  type Drift,
  DRIFT_SQL,
  DRIFT_STATUS,
  MISSING_SQL,
  type DriftKind,
  driftOf,
  type InventoryFacts,
  inventoryFacts,
} from './drift';

/** One database as a survey reports it (worker/engines/engine.ts SurveyedDatabase, without the engine). */
export interface ObservedDatabase {
  name: string;
  sizeBytes: number | null;
  state: string;
  connections: number | null;
  allowsConnections: boolean;
  markerInstanceId: string | null;
  edfiOdsVersion: string | null;
  edfiStandardVersion: string | null;
}

/** What a run saw of one database, for GET /admin/templates. */
export interface DatabaseFacts {
  observedAt: Date;
  exists: boolean;
  sizeBytes: number | null;
  edfiOdsVersion: string | null;
  edfiStandardVersion: string | null;
}

export interface InstanceInventory {
  inventory: InventoryFacts | null;
  drift: Drift | null;
}

/** Runs kept for GET /admin/inventory's history; older ones are removed by each run. */
const RUNS_KEPT = 50;
/** Rows per insert: SQL Server takes at most 2100 parameters a statement (9 columns each). */
const ROWS_PER_INSERT = 200;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The inventory tables of the admin database: written by the worker, read by the API (docs/inventory.md). */
export class InventoryStore {
  /**
   * The facts run is read on every instance read and list of the API (its polling paths): a
   * statement made once (PreparedRead; docs/benchmarks.md, "Status polling and create acceptance").
   */
  private readonly factsRunRead: PreparedRead<InventoryRunEntity, never>;

  /** PostgreSQL only (null elsewhere), made on first use: see databasesNamedOrMarked. */
  private namedOrMarked?: {
    run: (values: unknown[]) => Promise<Record<string, unknown>[]>;
    hydrate: (row: Record<string, unknown>) => InventoryDatabaseEntity;
  } | null;

  constructor(private readonly dataSource: DataSource) {
    this.factsRunRead = new PreparedRead(dataSource, InventoryRunEntity, 'r', [], (qb) =>
      qb.where('r.finished_at IS NOT NULL').andWhere('r.error IS NULL').orderBy('r.finished_at', 'DESC').limit(1),
    );
  }

  async startRun(workerId: string): Promise<InventoryRunEntity> {
    const run = Object.assign(new InventoryRunEntity(), {
      id: randomUUID(),
      startedAt: new Date(),
      finishedAt: null,
      workerId: workerId.slice(0, 200),
      databaseCount: null,
      error: null,
    });
    await this.dataSource.getRepository(InventoryRunEntity).insert(run);
    return run;
  }

  /** Replaces every row with what the survey saw and finishes the run, in one transaction. */
  async finishRun(run: InventoryRunEntity, databases: readonly ObservedDatabase[]): Promise<void> {
    const observedAt = new Date();
    const rows = databases.map((d) =>
      Object.assign(new InventoryDatabaseEntity(), {
        databaseName: d.name,
        observedAt,
        sizeBytes: d.sizeBytes,
        state: d.state.slice(0, 32),
        connections: d.connections,
        allowsConnections: d.allowsConnections,
        // A marker naming no uuid is not one this manager wrote.
        markerInstanceId: d.markerInstanceId && UUID.test(d.markerInstanceId) ? d.markerInstanceId.toLowerCase() : null,
        odsVersion: d.edfiOdsVersion?.slice(0, 64) ?? null,
        standardVersion: d.edfiStandardVersion?.slice(0, 64) ?? null,
      }),
    );
    await this.dataSource.transaction(async (m) => {
      await m.createQueryBuilder().delete().from(InventoryDatabaseEntity).execute();
      for (let i = 0; i < rows.length; i += ROWS_PER_INSERT)
        await m.insert(InventoryDatabaseEntity, rows.slice(i, i + ROWS_PER_INSERT));
      await m.update(InventoryRunEntity, { id: run.id }, { finishedAt: new Date(), databaseCount: rows.length });
    });
    await this.pruneRuns();
  }

  async failRun(run: InventoryRunEntity, error: string): Promise<void> {
    await this.dataSource
      .getRepository(InventoryRunEntity)
      .update({ id: run.id }, { finishedAt: new Date(), error: error.slice(0, 2000) });
    await this.pruneRuns();
  }

  private async pruneRuns(): Promise<void> {
    const repo = this.dataSource.getRepository(InventoryRunEntity);
    const kept = await repo.find({ order: { startedAt: 'DESC' }, skip: RUNS_KEPT - 1, take: 1 });
    if (kept[0]) await repo.delete({ startedAt: LessThan(kept[0].startedAt) });
  }

  /** The latest run, finished or not, failed or not. */
  async lastRun(): Promise<InventoryRunEntity | null> {
    return this.dataSource.getRepository(InventoryRunEntity).findOne({ where: {}, order: { startedAt: 'DESC' } });
  }

  /** The run whose facts the table holds: the successful run that finished (so replaced the rows) last. */
  async factsRun(): Promise<InventoryRunEntity | null> {
    return this.factsRunRead.one({});
  }

  /** Inventory facts and drift of each instance: three queries whatever the number of instances. */
  async forInstances(
    instances: readonly InstanceEntity[],
    now = new Date(),
    run?: InventoryRunEntity | null,
  ): Promise<Map<string, InstanceInventory>> {
    const result = new Map<string, InstanceInventory>();
    if (!instances.length) return result;
    const factsRun = run === undefined ? await this.factsRun() : run;
    if (!factsRun) {
      for (const i of instances) result.set(i.id, { inventory: null, drift: null });
      return result;
    }
    const names = [...new Set(instances.map((i) => i.databaseName))];
    const ids = instances.map((i) => i.id);
    const [named, markedRows] = await this.databasesNamedOrMarked(names, ids);
    const byName = new Map(named.map((d) => [d.databaseName, d]));
    const marked = new Map<string, string[]>();
    for (const d of markedRows)
      marked.set(d.markerInstanceId!, [...(marked.get(d.markerInstanceId!) ?? []), d.databaseName]);
    for (const i of instances) {
      const database = byName.get(i.databaseName) ?? null;
      result.set(i.id, {
        inventory: inventoryFacts(i, factsRun, database, now),
        drift: driftOf(i, factsRun, database, marked.get(i.id) ?? []),
      });
    }
    return result;
  }

  /**
   * The facts of the databases of these names, and of those whose marker names one of these
   * instances. On every instance read of the API where a worker takes inventories, so on
   * PostgreSQL one statement made once (both lists as arrays); elsewhere the two reads at once.
   * TypeORM's two `findBy` one after the other cost the instance poll about 0.2 ms of the API's
   * CPU and a round trip more (docs/benchmarks.md, "Status polling and create acceptance").
   */
  private async databasesNamedOrMarked(
    names: readonly string[],
    ids: readonly string[],
  ): Promise<[InventoryDatabaseEntity[], InventoryDatabaseEntity[]]> {
    this.namedOrMarked ??=
      this.dataSource.driver.options.type === 'postgres'
        ? {
            run: preparedStatement(
              this.dataSource,
              'SELECT * FROM inventory_databases WHERE database_name = ANY($1::text[]) OR marker_instance_id = ANY($2::uuid[])',
            ),
            hydrate: entityHydrator(this.dataSource, InventoryDatabaseEntity),
          }
        : null;
    if (this.namedOrMarked) {
      const rows = (await this.namedOrMarked.run([names, ids])).map(this.namedOrMarked.hydrate);
      const wanted = { names: new Set(names), ids: new Set(ids) };
      return [
        rows.filter((d) => wanted.names.has(d.databaseName)),
        rows.filter((d) => d.markerInstanceId !== null && wanted.ids.has(d.markerInstanceId)),
      ];
    }
    const repo = this.dataSource.getRepository(InventoryDatabaseEntity);
    return Promise.all([
      repo.findBy({ databaseName: In([...names]) }),
      repo.findBy({ markerInstanceId: In([...ids]) }),
    ]);
  }

  /**
   * What the last successful run saw of these databases (the templates'), by lower-cased name:
   * absent from the server is `exists: false`. Null before any run has succeeded.
   */
  async databaseFacts(names: readonly string[]): Promise<Map<string, DatabaseFacts> | null> {
    const run = await this.factsRun();
    if (!run) return null;
    const found = new Map(
      (await this.dataSource.getRepository(InventoryDatabaseEntity).findBy({ databaseName: In([...names]) })).map(
        (d) => [d.databaseName, d],
      ),
    );
    return new Map(
      names.map((name) => {
        const d = found.get(name);
        return [
          name.toLowerCase(),
          {
            observedAt: d?.observedAt ?? run.finishedAt ?? run.startedAt,
            exists: d !== undefined,
            sizeBytes: d?.sizeBytes ?? null,
            edfiOdsVersion: d?.odsVersion ?? null,
            edfiStandardVersion: d?.standardVersion ?? null,
          },
        ];
      }),
    );
  }

  /** Databases carrying this manager's marker for an instance that is not live (no record, or Deleted or Released). */
  async unknownDatabases(): Promise<InventoryDatabaseEntity[]> {
    return this.dataSource
      .getRepository(InventoryDatabaseEntity)
      .createQueryBuilder('inv')
      .leftJoin(InstanceEntity, 'i', 'i.id = inv.marker_instance_id')
      .where('inv.marker_instance_id IS NOT NULL')
      .andWhere('(i.id IS NULL OR i.status IN (:...gone))', { gone: [...GONE_STATUSES] })
      .orderBy('inv.database_name')
      .getMany();
  }

  /** Live instances in drift, by kind (for the metrics). */
  async driftCounts(): Promise<Record<DriftKind, number>> {
    const counts: Record<DriftKind, number> = { missing: 0, marker: 0 };
    const run = await this.factsRun();
    if (!run) return counts;
    const params = { driftStatus: DRIFT_STATUS, runStart: run.startedAt };
    const count = (extra?: string) => {
      const qb = this.dataSource.getRepository(InstanceEntity).createQueryBuilder('i').where(DRIFT_SQL, params);
      return (extra ? qb.andWhere(extra) : qb).getCount();
    };
    const [all, missing] = await Promise.all([count(), count(MISSING_SQL)]);
    counts.missing = missing;
    counts.marker = all - missing;
    return counts;
  }
}
