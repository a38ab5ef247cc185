import { Pool, PoolClient } from 'pg';
import * as sql from './statements';
import type { PostgresCreateStrategy } from './settings';
import { sameServerUrl } from '../../../shared/urls';
import { KEEP_ONE_WARM } from '../../../shared/database/pools';
import {
  errorCode,
  isConnectionFailure,
  isDuplicateDatabase,
  isSerializationFailure,
  SQLSTATE,
} from '../../../shared/database/postgres-errors';
import { errorMessage, PermanentJobError } from '../../../shared/errors';
import type { Logger } from '../../../shared/logger';
import { sleep } from '../../../shared/retry';
import {
  AdoptRequest,
  CopySource,
  CreateRequest,
  DatabaseDescription,
  DropRequest,
  EngineDriver,
  MARKER_KIND,
  OperationResult,
  Outcome,
  ownershipMarker,
  parseOwnershipMarker,
  ReleaseRequest,
  RenameRequest,
  ServerInspector,
  SurveyedDatabase,
} from '../engine';
import { adoptDatabase, assertOwned, markedElsewhereWarnings, releaseDatabase } from '../ownership';
import { surveyPostgres, type VersionsSeen } from './survey';
import { clientWithSetup, TracedClient } from './traced-client';

export interface PostgresDriverOptions {
  /** Privileged connection to the ODS server (a maintenance database such as `postgres`). */
  serverUrl: string;
  /**
   * CREATE DATABASE … STRATEGY on PostgreSQL 15+ for a template; empty leaves the server's default.
   * `sizeOf` reads the template's size (asked only on 15+, and only by a choice that depends on it).
   */
  createStrategyFor?: (
    template: string,
    sizeOf: () => Promise<number>,
  ) => PostgresCreateStrategy | Promise<PostgresCreateStrategy>;
  poolSize?: number;
  /**
   * lock_timeout of every session, so every DDL statement: a lock held elsewhere (an open
   * transaction that touched the database) becomes 55P03, retried with backoff, not a hang
   * that holds a concurrency slot forever. Default 5000.
   */
  lockTimeoutMs?: number;
  log: Logger;
  /** Called between the steps of each operation; fault-injection tests pause or crash here. */
  onStep?: (step: string) => Promise<void>;
  /** Where a copy reports its steps (the running job's progress: worker/jobs/progress.ts). */
  onProgress?: (percent: number, message: string) => void;
  /** Use the PostgreSQL 11–12 drop (terminate sessions, then DROP) whatever the server's version. */
  legacyDrop?: boolean;
}

/**
 * Worth retrying besides a lost or refused connection and a lost race: a template or database
 * with sessions (55006), a lock held elsewhere past lock_timeout (55P03), a configuration limit
 * exceeded (53400), and our own staging clone still being made by an earlier run.
 */
const STAGING_BUSY = 'ODSIM_STAGING_BUSY';
/** Tries of a copy's clone while a terminated session of the source lingers. */
const CLONE_IN_USE_ATTEMPTS = 5;
const TRANSIENT_CODES = new Set<string>([SQLSTATE.objectInUse, SQLSTATE.lockNotAvailable, '53400', STAGING_BUSY]);

/**
 * PostgreSQL 11+ (and RDS, Azure Database for PostgreSQL, Cloud SQL): clone with
 * CREATE DATABASE … TEMPLATE, mark with COMMENT ON DATABASE, drop WITH (FORCE) on 13+.
 * Needs CREATEDB and ownership of the databases it manages; never writes catalogs directly.
 */
export class PostgresDriver implements EngineDriver, ServerInspector {
  readonly engine = 'postgres' as const;
  private readonly pool: Pool;
  private versionNum?: Promise<number>;

  constructor(private readonly options: PostgresDriverOptions) {
    // Every statement passes TracedClient: inside a job's trace, each is a span (docs/tracing.md).
    this.pool = new Pool({
      ...this.sessionOptions(options.serverUrl),
      max: options.poolSize ?? 4,
      // One session kept open between jobs (shared/database/dialects/postgres.ts says why).
      ...KEEP_ONE_WARM,
      // 14+: a backend whose worker died notices it and stops, instead of cloning on for nobody.
      Client: clientWithSetup(sql.SESSION_SETUP),
    });
    this.pool.on('error', (err) =>
      options.log.warn('ODS server connection error', { event: 'ods_server.error', error: err.message }),
    );
  }

  async create(req: CreateRequest): Promise<OperationResult> {
    return { outcome: await this.createDatabase(req), warnings: [] };
  }

  async rename(req: RenameRequest): Promise<OperationResult> {
    return { outcome: await this.renameDatabase(req), warnings: [] };
  }

  async adopt(req: AdoptRequest): Promise<OperationResult> {
    return adoptDatabase(this, req, (name) => this.step(name));
  }

  async release(req: ReleaseRequest): Promise<OperationResult> {
    return releaseDatabase(this, req, (name) => this.step(name));
  }

  private async createDatabase(req: CreateRequest): Promise<Outcome> {
    // First thing on a resumed copy: an earlier run shut the source and did not say it reopened it.
    if (req.copy?.closedNote.isSet()) await this.reopenSource(req.templateDatabase, req.copy);
    // Both looks in one statement: the name asked for, and the staging copy an earlier run may have left.
    const found = await this.describeAll([req.databaseName, req.stagingName]);
    const existing = found.get(req.databaseName);
    if (existing) {
      assertOwned(existing, req.instanceId, 'create');
      if (!existing.valid)
        throw new PermanentJobError(
          `database "${req.databaseName}" is marked invalid (an interrupted drop); delete the instance to clear it`,
        );
      await this.assertWritable(req.databaseName);
      return 'already-created';
    }
    const staging = found.get(req.stagingName);
    if (staging && !staging.valid) await this.dropDatabase(req.stagingName);
    if (!staging || !staging.valid) {
      await this.step('create.cloning');
      if (req.copy?.disconnectSource) await this.cloneClosingSource(req, req.copy);
      else await this.cloneTemplate(req.stagingName, req.templateDatabase);
      await this.step('create.cloned');
    }
    await this.markOwner(req.stagingName, req.instanceId);
    await this.step('create.marked');
    // Renamed, then proven writable under its name: the probe's session may then end on its own
    // time (a backend takes ~10 ms to exit), where before the rename had to wait for it. Until the
    // probe passes the job is not done, and a re-run finds the marked database and probes it again.
    try {
      await this.withClient((c) => c.query(sql.renameDatabase(req.stagingName, req.databaseName)));
    } catch (err) {
      if (isDuplicateDatabase(err)) {
        // Someone created a database with this name after our first look: leave theirs alone, remove ours.
        await this.dropDatabase(req.stagingName);
        throw new PermanentJobError(
          `database "${req.databaseName}" already exists and is not managed by this instance; it was left untouched`,
        );
      }
      throw err;
    }
    await this.step('create.renamed');
    await this.assertWritable(req.databaseName);
    return 'created';
  }

  async drop(req: DropRequest): Promise<OperationResult> {
    for (const staging of req.stagingNames) {
      if (await this.exists(staging)) await this.dropDatabase(staging);
    }
    const existing = await this.describe(req.databaseName);
    if (!existing) {
      const elsewhere = await this.databasesMarkedFor(req.instanceId);
      return {
        outcome: 'already-absent',
        warnings: markedElsewhereWarnings(req.databaseName, req.instanceId, elsewhere),
      };
    }
    if (existing.ownerInstanceId !== req.instanceId && req.ownsNothing)
      return { outcome: 'left-unmanaged', warnings: [] };
    assertOwned(existing, req.instanceId, 'drop');
    await this.step('drop.before');
    await this.dropDatabase(req.databaseName);
    return { outcome: 'dropped', warnings: [] };
  }

  private async renameDatabase(req: RenameRequest): Promise<Outcome> {
    const found = await this.describeAll([req.from, req.to]);
    const source = found.get(req.from);
    const target = found.get(req.to);
    if (target) {
      assertOwned(target, req.instanceId, 'rename onto');
      if (source)
        throw new PermanentJobError(`both "${req.from}" and "${req.to}" carry this instance's marker; resolve by hand`);
      await this.allowConnections(req.to, true);
      return 'already-renamed';
    }
    if (!source) throw new PermanentJobError(`database "${req.from}" does not exist; nothing to rename`);
    assertOwned(source, req.instanceId, 'rename');
    // Connected applications (the ODS/API's pools) are shut out, then ended: a rename needs the database to itself.
    await this.allowConnections(req.from, false);
    try {
      await this.step('rename.closed');
      await this.terminateSessions(req.from);
      await this.withClient((c) => c.query(sql.renameDatabase(req.from, req.to)));
    } catch (err) {
      await this.allowConnections(req.from, true).catch(() => undefined);
      if (isDuplicateDatabase(err)) {
        throw new PermanentJobError(
          `database "${req.to}" already exists and is not managed by this instance; it was left untouched`,
        );
      }
      throw err;
    }
    await this.step('rename.renamed');
    await this.allowConnections(req.to, true);
    return 'renamed';
  }

  /**
   * A copy's clone: PostgreSQL copies only a database nobody is connected to, so the source is
   * shut to new connections, its sessions are ended, the clone is made, and the source is opened
   * again whatever happened. The note is written before the source is shut, so a worker that dies
   * in between leaves it for the next run or the reconciler. A source found already shut is not
   * ours to open: it gets no note and is left as it was.
   */
  private async cloneClosingSource(req: CreateRequest, copy: CopySource): Promise<void> {
    const name = req.templateDatabase;
    const source = await this.describe(name);
    if (!source) throw new PermanentJobError(`source database "${name}" does not exist; nothing to copy`);
    assertOwned(source, copy.sourceInstanceId, 'copy');
    const closing = source.acceptsConnections;
    if (closing) {
      await copy.closedNote.set();
      await this.allowConnections(name, false);
    }
    try {
      this.progress(10, `source database "${name}" shut to new connections; ending its sessions`);
      await this.step('copy.source-closed');
      await this.cloneWhenFree(req.stagingName, name);
      this.progress(60, `source database "${name}" copied`);
      await this.step('copy.cloned');
    } finally {
      if (closing) await this.reopenSource(name, copy);
    }
  }

  /** A session ended by pg_terminate_backend may linger a moment (before 14 nothing waits for it): 55006 is tried again briefly. */
  private async cloneWhenFree(staging: string, source: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      await this.terminateSessions(source);
      try {
        await this.cloneTemplate(staging, source);
        return;
      } catch (err) {
        if (errorCode(err) !== SQLSTATE.objectInUse || attempt >= CLONE_IN_USE_ATTEMPTS) throw err;
        await sleep(200 * attempt);
      }
    }
  }

  private async reopenSource(name: string, copy: CopySource): Promise<void> {
    await this.reopenCopySource(name);
    await copy.closedNote.clear();
    this.progress(70, `source database "${name}" open to connections again`);
  }

  async reopenCopySource(name: string): Promise<void> {
    if (await this.exists(name)) await this.allowConnections(name, true);
  }

  async exists(name: string): Promise<boolean> {
    return (await this.describe(name)) !== null;
  }

  async describe(name: string): Promise<DatabaseDescription | null> {
    return (await this.describeAll([name])).get(name) ?? null;
  }

  /** The databases among `names` that exist, by name, in one statement. */
  private async describeAll(names: string[]): Promise<Map<string, DatabaseDescription>> {
    const result = await this.withClient((c) =>
      c.query<{ datname: string; datallowconn: boolean; datconnlimit: number; marker: string | null }>(
        sql.DESCRIBE_DATABASES,
        [names],
      ),
    );
    return new Map(
      result.rows.map((row) => [
        row.datname,
        {
          name: row.datname,
          ownerInstanceId: parseOwnershipMarker(row.marker),
          valid: row.datconnlimit !== -2,
          acceptsConnections: row.datallowconn,
        },
      ]),
    );
  }

  async markOwner(name: string, instanceId: string): Promise<void> {
    await this.withClient((c) => c.query(sql.markOwner(name, ownershipMarker(instanceId))));
  }

  async clearOwner(name: string): Promise<void> {
    await this.withClient((c) => c.query(sql.clearOwner(name)));
  }

  /** Every database whose ownership marker names this instance, under whatever name. */
  async databasesMarkedFor(instanceId: string): Promise<string[]> {
    const result = await this.withClient((c) =>
      c.query<{ datname: string; marker: string }>(sql.DATABASES_WITH_MARKERS, [MARKER_KIND]),
    );
    return result.rows.filter((r) => parseOwnershipMarker(r.marker) === instanceId).map((r) => r.datname);
  }

  /** Ed-Fi versions read by earlier surveys (see surveyPostgres). */
  private readonly versionsSeen = new Map<string, VersionsSeen>();

  /** Every non-system database of the server, for the inventory (worker/inventory/). */
  async survey(): Promise<SurveyedDatabase[]> {
    return surveyPostgres({
      pool: this.pool,
      serverUrl: this.options.serverUrl,
      sessionOptions: (url) => this.sessionOptions(url),
      log: this.options.log,
      versionCache: this.versionsSeen,
    });
  }

  isTransient(err: unknown): boolean {
    if (err instanceof PermanentJobError) return false;
    return isConnectionFailure(err) || isSerializationFailure(err) || TRANSIENT_CODES.has(errorCode(err) ?? '');
  }

  async serverVersion(): Promise<number> {
    this.versionNum ??= this.withClient((c) => c.query<{ server_version_num: string }>(sql.SERVER_VERSION))
      .then((r) => {
        const version = r.rows[0]?.server_version_num;
        if (!version) throw new Error('the server did not say its version (SHOW server_version_num)');
        return Number(version);
      })
      .catch((err) => {
        this.versionNum = undefined;
        throw err;
      });
    return this.versionNum;
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  private async cloneTemplate(name: string, template: string): Promise<void> {
    const version = await this.serverVersion();
    try {
      // CREATE DATABASE cannot run inside a transaction block: a bare statement on its own connection.
      // On a pooled session of its own: the chooser may read it again beside the copy, after this session is back.
      const sizeOf = () =>
        this.withClient(async (c) =>
          Number((await c.query<{ bytes: string }>(sql.DATABASE_SIZE, [template])).rows[0]?.bytes ?? NaN),
        );
      await this.withClient(async (c) => {
        const strategy =
          version >= sql.PG_VERSION.createStrategy
            ? ((await this.options.createStrategyFor?.(template, sizeOf)) ?? '')
            : '';
        return c.query(sql.createFromTemplate(name, template, strategy, version));
      });
    } catch (err) {
      if (errorCode(err) === SQLSTATE.undefinedDatabase)
        throw new PermanentJobError(`template database "${template}" does not exist`);
      // The staging name is this job's own: a duplicate means an earlier run of this job (a
      // backend orphaned by a crashed worker) is creating it. Look again on the next try.
      if (isDuplicateDatabase(err))
        throw Object.assign(new Error(`staging database "${name}" is being created by an earlier run; retrying`), {
          code: STAGING_BUSY,
        });
      throw err;
    }
  }

  /** Drops a database and ends its sessions: WITH (FORCE) on 13+, terminate-then-drop on 11–12. */
  private async dropDatabase(name: string): Promise<void> {
    const version = await this.serverVersion();
    if (version >= sql.PG_VERSION.dropForce && !this.options.legacyDrop) {
      await this.withClient((c) => c.query(sql.dropForce(name)));
      return;
    }
    const description = await this.describe(name);
    if (!description) return;
    if (description.valid) await this.allowConnections(name, false);
    await this.terminateSessions(name);
    await this.withClient((c) => c.query(sql.dropPlain(name)));
  }

  private async allowConnections(name: string, allow: boolean): Promise<void> {
    await this.withClient((c) => c.query(sql.allowConnections(name, allow)));
  }

  private async terminateSessions(name: string): Promise<void> {
    const version = await this.serverVersion();
    // 14+ can wait for each backend to be gone; before that a retry of the next statement covers the gap.
    await this.withClient((c) => c.query(sql.terminateSessions(version), [name]));
  }

  /** Proves the database takes writes: a table created and rolled back, on a connection to it. */
  async assertWritable(name: string): Promise<void> {
    const client = new TracedClient(this.sessionOptions(sameServerUrl(this.options.serverUrl, name)));
    client.on('error', () => undefined);
    await client.connect();
    try {
      await client.query(sql.WRITE_PROBE);
    } catch (err) {
      if (this.isTransient(err)) throw err;
      throw new PermanentJobError(`database "${name}" does not accept writes: ${errorMessage(err)}`);
    } finally {
      // Not waited for: the backend's exit takes ~10 ms and nothing after the probe needs the
      // database to itself (a rename or drop of it ends its sessions first in any case).
      client.end().catch(() => undefined);
    }
  }

  private sessionOptions(connectionString: string) {
    return {
      connectionString,
      connectionTimeoutMillis: 10_000,
      lock_timeout: this.options.lockTimeoutMs ?? 5_000,
      application_name: 'ods-instance-manager-worker',
    };
  }

  private progress(percent: number, message: string): void {
    this.options.onProgress?.(percent, message);
  }

  private async step(name: string): Promise<void> {
    await this.options.onStep?.(name);
  }

  private async withClient<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      return await work(client);
    } finally {
      client.release();
    }
  }
}
