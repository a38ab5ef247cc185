import sql from 'mssql';
import * as statements from './statements';
import { traceStatements } from './traced-requests';
import {
  isAzureSqlDatabase,
  MssqlSettings,
  MssqlStrategy,
  parseMssqlUrl,
  rdsS3Arn,
  copyStrategyFor,
  strategyFor,
  templateBackupFile,
} from './settings';
import { STRATEGY_PRIVILEGES } from './plan';
import { hasErrorNumber, isBackupPathError, isPermissionDenied, isTransientMssqlError, MSSQL_ERROR } from './errors';
import { errorMessage, PermanentJobError } from '../../../shared/errors';
import type { Logger } from '../../../shared/logger';
import { sleep } from '../../../shared/retry';
import {
  AdoptRequest,
  CreateRequest,
  DatabaseDescription,
  DropRequest,
  EngineDriver,
  OperationResult,
  Outcome,
  ownershipMarker,
  parseOwnershipMarker,
  ReleaseRequest,
  RenameRequest,
  SurveyedDatabase,
} from '../engine';
import { adoptDatabase, assertOwned, markedElsewhereWarnings, releaseDatabase } from '../ownership';

export interface MssqlDriverOptions {
  /** Privileged connection to the server (mssql://…/master). */
  serverUrl: string;
  settings: MssqlSettings;
  poolSize?: number;
  /** Longest a short statement (a look, ALTER DATABASE, a rename) may take; then ETIMEOUT, retried. Default 60 s. */
  statementTimeoutMs?: number;
  /** How often a running copy's progress is read. Default 5 s. */
  pollIntervalMs?: number;
  log: Logger;
  /** Called between the steps of each operation; fault-injection tests pause or crash here. */
  onStep?: (step: string) => Promise<void>;
  onProgress?: (percent: number, message: string) => void;
}

/** What sys.databases says of one database, with the marker when it could be read. */
export interface MssqlDatabase extends DatabaseDescription {
  state: string;
  userAccess: string;
  readOnly: boolean;
}

interface DatabaseRow {
  name: string;
  state_desc: string;
  user_access_desc: string;
  is_read_only: boolean;
}

interface RdsTask {
  task_id: number;
  task_type: string;
  lifecycle: string;
  '% complete': number | null;
  task_info: string | null;
}

/** Our own staging database being made by an earlier run (1801/3154 on the staging name): look again later. */
const STAGING_BUSY = 'ODSIM_STAGING_BUSY';
/** Markers are unreadable here: the login may not enter the database, or it cannot be opened. */
const MARKER_UNREADABLE = new Set<number>([MSSQL_ERROR.noDatabaseAccess, MSSQL_ERROR.cannotOpenDatabase]);
const ACTIVE_RDS_LIFECYCLES = new Set(['CREATED', 'IN_PROGRESS']);

/**
 * SQL Server 2016 SP2+ (and RDS for SQL Server, Azure SQL Database): copy the template into a
 * staging database by the configured strategy, mark it with an extended property, prove it
 * takes writes, then give it its name. Every statement runs alone in autocommit, never in a
 * transaction; long ones (BACKUP, RESTORE, DBCC CLONEDATABASE) on a session of their own with
 * no timeout, their progress read from a second session.
 */
/** Longest time of a survey's look into one database (its marker, its Ed-Fi versions). */
const SURVEY_TIMEOUT_MS = 5000;

export class MssqlDriver implements EngineDriver {
  readonly engine = 'mssql' as const;
  private readonly config: sql.config;
  private readonly azure: boolean;
  private pool?: Promise<sql.ConnectionPool>;

  constructor(private readonly options: MssqlDriverOptions) {
    const { config, problems } = parseMssqlUrl(options.serverUrl);
    if (problems.length) throw new Error(`ODS_SERVER_URL: ${problems.join('; ')}`);
    this.config = {
      ...config,
      requestTimeout: options.statementTimeoutMs ?? 60_000,
      pool: { max: options.poolSize ?? 4, min: 0 },
    };
    this.azure = isAzureSqlDatabase(options.settings);
    if (!this.azure) this.survey = () => this.surveyServer();
  }

  async create(req: CreateRequest): Promise<OperationResult> {
    return { outcome: await this.createDatabase(req), warnings: [] };
  }

  async rename(req: RenameRequest): Promise<OperationResult> {
    return { outcome: await this.renameDatabase(req), warnings: [] };
  }

  async adopt(req: AdoptRequest): Promise<OperationResult> {
    return adoptDatabase(this.markers, req, (name) => this.step(name));
  }

  async release(req: ReleaseRequest): Promise<OperationResult> {
    return releaseDatabase(this.markers, req, (name) => this.step(name));
  }

  /** What the shared adopt and release rules (worker/engines/ownership.ts) need of this server. */
  private get markers() {
    return {
      describe: (name: string) => this.describe(name),
      markOwner: (name: string, instanceId: string) => this.writeMarker(name, ownershipMarker(instanceId)),
      clearOwner: async (name: string) => {
        if (this.azure) await this.withSession(name, (s) => s.request().batch(statements.clearOwner()));
        else await this.run(statements.clearOwner(name));
      },
      assertWritable: (name: string) => this.assertWritable(name),
    };
  }

  private async createDatabase(req: CreateRequest): Promise<Outcome> {
    const existing = await this.describe(req.databaseName);
    if (existing) {
      this.assertOwned(existing, req.instanceId, 'create');
      await this.assertWritable(req.databaseName);
      return 'already-created';
    }
    const strategy = req.copy ? this.copyStrategy() : strategyFor(this.options.settings, req.templateDatabase);
    let staging = await this.describe(req.stagingName);
    if (staging && !(await this.stagingReusable(staging, strategy))) {
      await this.dropDatabase(staging);
      staging = null;
    }
    if (!staging || staging.state !== 'ONLINE') {
      await this.step('create.cloning');
      // A copy reads only the database of the instance it was asked to copy; online, so no session is ended.
      if (req.copy) await this.assertCopySource(req.templateDatabase, req.copy.sourceInstanceId);
      await this.copyTemplate(strategy, req.templateDatabase, req.stagingName, staging !== null);
      await this.step('create.cloned');
    }
    await this.writeMarker(req.stagingName, ownershipMarker(req.instanceId));
    await this.step('create.marked');
    await this.assertWritable(req.stagingName);
    try {
      await this.run(statements.renameDatabase(req.stagingName, req.databaseName));
    } catch (err) {
      if (hasErrorNumber(err, MSSQL_ERROR.databaseExists)) {
        // Someone created a database with this name after our first look: leave theirs alone, remove ours.
        const ours = await this.describe(req.stagingName);
        if (ours) await this.dropDatabase(ours);
        throw new PermanentJobError(
          `database "${req.databaseName}" already exists and is not managed by this instance; it was left untouched`,
        );
      }
      throw err;
    }
    await this.step('create.renamed');
    return 'created';
  }

  private copyStrategy(): MssqlStrategy {
    const strategy = copyStrategyFor(this.options.settings);
    if (!strategy)
      throw new PermanentJobError(
        'copying an instance is not supported on RDS for SQL Server (no backup to the server and no database copy); nothing was changed',
      );
    return strategy;
  }

  private async assertCopySource(name: string, sourceInstanceId: string): Promise<void> {
    const source = await this.describe(name);
    if (!source) throw new PermanentJobError(`source database "${name}" does not exist; nothing to copy`);
    this.assertOwned(source, sourceInstanceId, 'copy');
  }

  /**
   * A staging database an earlier run left (the name is this job's own): kept when its copy is
   * complete or still running (an Azure copy, an RDS task), dropped and made again otherwise.
   */
  private async stagingReusable(staging: MssqlDatabase, strategy: MssqlStrategy): Promise<boolean> {
    if (staging.state === 'ONLINE') return !staging.readOnly;
    if (strategy === 'azure-copy') return staging.state === 'COPYING';
    if (strategy === 'rds-restore' && staging.state === 'RESTORING') {
      const task = await this.latestRdsTask(staging.name);
      return task !== undefined && ACTIVE_RDS_LIFECYCLES.has(task.lifecycle);
    }
    // RESTORING after an interrupted restore, SUSPECT, RECOVERY_PENDING…: start again.
    return false;
  }

  private async copyTemplate(
    strategy: MssqlStrategy,
    template: string,
    staging: string,
    running: boolean,
  ): Promise<void> {
    try {
      switch (strategy) {
        case 'backup-restore': {
          const paths = await this.serverPaths(true);
          const file = statements.serverPath(paths.backup, statements.templateBackupFileName(template));
          await this.runLong(statements.backupDatabase(template, file), `backing up template "${template}"`);
          await this.restore(staging, file, paths);
          return;
        }
        case 'restore-file': {
          const file = templateBackupFile(this.options.settings, template);
          if (!file)
            throw new PermanentJobError(`ODS_MSSQL_TEMPLATE_BACKUP_FILE names no .bak for template "${template}"`);
          await this.restore(staging, file, await this.serverPaths(false));
          return;
        }
        case 'clonedatabase':
          await this.runLong(statements.cloneDatabase(template, staging), `cloning the schema of "${template}"`);
          await this.run(statements.setReadWrite(staging));
          return;
        case 'azure-copy':
          if (!running) await this.run(statements.copyDatabase(staging, template));
          await this.waitForAzureCopy(staging);
          return;
        case 'rds-restore': {
          const arn = rdsS3Arn(this.options.settings, template);
          if (!arn) throw new PermanentJobError(`ODS_MSSQL_RDS_S3_ARN names no backup for template "${template}"`);
          const task = await this.latestRdsTask(staging);
          if (!task || !ACTIVE_RDS_LIFECYCLES.has(task.lifecycle)) await this.run(statements.rdsRestore(staging, arn));
          await this.waitForRdsTask(staging);
          return;
        }
      }
    } catch (err) {
      throw this.copyFailure(err, strategy, template, staging);
    }
  }

  /** What a failed copy means, in words that name the setting or privilege to fix. */
  private copyFailure(err: unknown, strategy: MssqlStrategy, template: string, staging: string): unknown {
    if (err instanceof PermanentJobError) return err;
    // The staging name is this job's own: an earlier run of this job is making it. Look again on the next try.
    if (hasErrorNumber(err, MSSQL_ERROR.databaseExists) || hasErrorNumber(err, MSSQL_ERROR.restoreOntoOther))
      return Object.assign(new Error(`staging database "${staging}" is being created by an earlier run; retrying`), {
        code: STAGING_BUSY,
      });
    if (this.isTransient(err)) return err;
    if (isPermissionDenied(err))
      return new PermanentJobError(
        `the worker's login may not ${strategy} the template: it needs ${STRATEGY_PRIVILEGES[strategy].join('; ')} (${errorMessage(err)})`,
      );
    // Database does not exist (911, BACKUP), could not find database (2520, DBCC).
    if ([911, 2520].some((n) => hasErrorNumber(err, n)))
      return new PermanentJobError(`template database "${template}" does not exist (${errorMessage(err)})`);
    if (isBackupPathError(err)) {
      const setting = strategy === 'restore-file' ? 'ODS_MSSQL_TEMPLATE_BACKUP_FILE' : 'ODS_MSSQL_BACKUP_DIRECTORY';
      return new PermanentJobError(
        `the server could not use the backup file: check ${setting} and that the SQL Server service account may use it (${errorMessage(err)})`,
      );
    }
    // Directory lookup failed (5133), file exists (5170), operating system error on a data file (5123).
    if ([5133, 5170, 5123].some((n) => hasErrorNumber(err, n)))
      return new PermanentJobError(
        `the server could not place the database files: check ODS_MSSQL_DATA_PATH and ODS_MSSQL_LOG_PATH (${errorMessage(err)})`,
      );
    return err;
  }

  private async restore(staging: string, file: string, paths: { data: string; log: string }): Promise<void> {
    const list = await this.run<{ LogicalName: string; Type: string }>(statements.fileListOnly(file));
    const moves = statements.filePlacement(
      list.recordset.map((r) => ({ logicalName: r.LogicalName, type: r.Type })),
      staging,
      paths.data,
      paths.log,
    );
    await this.runLong(statements.restoreDatabase(staging, file, moves), `restoring "${staging}"`);
  }

  /** The configured directories, and the server's defaults for those not configured. */
  private async serverPaths(backup: boolean): Promise<{ data: string; log: string; backup: string }> {
    const s = this.options.settings;
    let defaults: { data_path: string | null; log_path: string | null; backup_path: string | null } | undefined;
    if (!s.dataPath || !s.logPath || (backup && !s.backupDirectory))
      defaults = (await this.run<typeof defaults>(statements.SERVER_DEFAULT_PATHS)).recordset[0];
    const pick = (configured: string | null, fallback: string | null | undefined, setting: string): string => {
      const path = configured ?? fallback;
      if (!path) throw new PermanentJobError(`the server reports no default directory: set ${setting}`);
      return path;
    };
    return {
      data: pick(s.dataPath, defaults?.data_path, 'ODS_MSSQL_DATA_PATH'),
      log: pick(s.logPath, defaults?.log_path, 'ODS_MSSQL_LOG_PATH'),
      backup: backup ? pick(s.backupDirectory, defaults?.backup_path, 'ODS_MSSQL_BACKUP_DIRECTORY') : '',
    };
  }

  private async waitForAzureCopy(staging: string): Promise<void> {
    for (;;) {
      const result = await this.run<{
        state_desc: string;
        percent_complete: number | null;
        error_code: number | null;
        error_desc: string | null;
      }>(statements.COPY_STATUS, { name: staging });
      const row = result.recordset[0];
      if (!row) throw Object.assign(new Error(`the copy "${staging}" is gone; starting again`), { code: STAGING_BUSY });
      if (row.state_desc === 'ONLINE') return;
      // While COPYING, Azure may recover from an error by itself (percent_complete starts over);
      // a failed copy leaves the database in another state (SUSPECT): drop it so the next try starts clean.
      if (row.state_desc !== 'COPYING') {
        const failed = await this.describe(staging);
        if (failed) await this.dropDatabase(failed);
        throw Object.assign(
          new Error(`copying into "${staging}" failed (${row.state_desc}): ${row.error_desc ?? 'no reason given'}`),
          { number: row.error_code ?? undefined },
        );
      }
      if (row.percent_complete !== null) this.progress(row.percent_complete, `copying into "${staging}"`);
      await sleep(this.options.pollIntervalMs ?? 5_000);
    }
  }

  private async latestRdsTask(staging: string): Promise<RdsTask | undefined> {
    const tasks = (await this.run<RdsTask>(statements.rdsTaskStatus(staging))).recordset;
    return tasks.filter((t) => t.task_type === 'RESTORE_DB').sort((a, b) => b.task_id - a.task_id)[0];
  }

  private async waitForRdsTask(staging: string): Promise<void> {
    for (;;) {
      const task = await this.latestRdsTask(staging);
      if (!task) throw new Error(`RDS reports no restore task for "${staging}"`);
      if (task.lifecycle === 'SUCCESS') return;
      if (!ACTIVE_RDS_LIFECYCLES.has(task.lifecycle)) {
        const failed = await this.describe(staging);
        if (failed) await this.dropDatabase(failed);
        throw new PermanentJobError(
          `the RDS restore task ${task.task_id} into "${staging}" ended ${task.lifecycle}: ${task.task_info ?? 'no reason given'} (check ODS_MSSQL_RDS_S3_ARN and the option group's IAM role)`,
        );
      }
      if (task['% complete'] !== null) this.progress(task['% complete'], `restoring "${staging}" from S3`);
      await sleep(this.options.pollIntervalMs ?? 5_000);
    }
  }

  async drop(req: DropRequest): Promise<OperationResult> {
    for (const name of req.stagingNames) {
      // A staging name is this job's own: its state is all the drop needs, not its marker.
      const staging = await this.describe(name, false);
      if (staging) await this.dropDatabase(staging);
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
    this.assertOwned(existing, req.instanceId, 'drop');
    await this.step('drop.before');
    await this.dropDatabase(existing);
    return { outcome: 'dropped', warnings: [] };
  }

  private async renameDatabase(req: RenameRequest): Promise<Outcome> {
    const [source, target] = await Promise.all([this.describe(req.from), this.describe(req.to)]);
    if (target) {
      this.assertOwned(target, req.instanceId, 'rename onto');
      if (source)
        throw new PermanentJobError(`both "${req.from}" and "${req.to}" carry this instance's marker; resolve by hand`);
      if (!this.azure && target.userAccess !== 'MULTI_USER') await this.run(statements.setMultiUser(req.to));
      return 'already-renamed';
    }
    if (!source) throw new PermanentJobError(`database "${req.from}" does not exist; nothing to rename`);
    this.assertOwned(source, req.instanceId, 'rename');
    // Connected applications (the ODS/API's pools) are ended: a rename needs the database to itself.
    if (!this.azure) await this.run(statements.setSingleUser(req.from));
    try {
      await this.step('rename.closed');
      await this.run(statements.renameDatabase(req.from, req.to));
    } catch (err) {
      if (!this.azure) await this.run(statements.setMultiUser(req.from)).catch(() => undefined);
      if (hasErrorNumber(err, MSSQL_ERROR.databaseExists))
        throw new PermanentJobError(
          `database "${req.to}" already exists and is not managed by this instance; it was left untouched`,
        );
      throw err;
    }
    await this.step('rename.renamed');
    if (!this.azure) await this.run(statements.setMultiUser(req.to));
    return 'renamed';
  }

  async exists(name: string): Promise<boolean> {
    return (await this.describe(name)) !== null;
  }

  async describe(name: string, withMarker = true): Promise<MssqlDatabase | null> {
    const row = (await this.run<DatabaseRow>(statements.DESCRIBE_DATABASE, { name })).recordset[0];
    if (!row) return null;
    const online = row.state_desc === 'ONLINE';
    return {
      name: row.name,
      ownerInstanceId: online && withMarker ? await this.readMarker(row.name) : null,
      valid: online,
      acceptsConnections: online && row.user_access_desc === 'MULTI_USER',
      state: row.state_desc,
      userAccess: row.user_access_desc,
      readOnly: row.is_read_only,
    };
  }

  /** The instance named by the database's marker; null when it has none or the login may not read it. */
  private async readMarker(name: string): Promise<string | null> {
    try {
      const result = this.azure
        ? await this.withSession(name, (s) => s.request().query<{ marker: string | null }>(statements.readMarker()))
        : await this.run<{ marker: string | null }>(statements.readMarker(name));
      return parseOwnershipMarker(result.recordset[0]?.marker);
    } catch (err) {
      if ([...MARKER_UNREADABLE].some((n) => hasErrorNumber(err, n))) return null;
      throw err;
    }
  }

  private async writeMarker(name: string, marker: string): Promise<void> {
    if (this.azure) await this.withSession(name, (s) => s.request().batch(statements.markOwner(marker)));
    else await this.run(statements.markOwner(marker, name));
  }

  /** Every database whose ownership marker names this instance, under whatever name. */
  private async databasesMarkedFor(instanceId: string): Promise<string[]> {
    const names = (await this.run<{ name: string }>(statements.USER_DATABASES)).recordset.map((r) => r.name);
    const marked: string[] = [];
    for (const name of names) {
      // Only names of the accepted shape can be ours (names.quote refuses the rest).
      if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(name)) continue;
      const owner = await this.readMarker(name).catch(() => null);
      if (owner === instanceId) marked.push(name);
    }
    return marked;
  }

  /**
   * Every user database of the server, for the inventory (worker/inventory/): one catalog look,
   * then each online database's marker and Ed-Fi versions on a short session of its own. Not on
   * Azure SQL Database (no sys.master_files; each database is looked at alone there): the worker
   * then takes no inventory and says so. Never run against a real SQL Server here (docs/inventory.md).
   */
  readonly survey?: () => Promise<SurveyedDatabase[]>;

  private async surveyServer(): Promise<SurveyedDatabase[]> {
    const rows = (await this.run<statements.SurveyRow>(statements.SURVEY_DATABASES)).recordset;
    const surveyed: SurveyedDatabase[] = [];
    for (const row of rows) {
      const database = statements.surveyedDatabase(row);
      if (database.state === 'online' || database.state === 'read-only') {
        database.markerInstanceId = await this.readMarker(row.name).catch(() => null);
        const versions = await this.withSession(
          row.name,
          (s) =>
            s
              .request()
              .query<{ ods_version: string | null; standard_version: string | null }>(statements.EDFI_VERSIONS),
          SURVEY_TIMEOUT_MS,
        ).catch((err: unknown) => {
          this.options.log.warn('could not read the Ed-Fi versions of a database', {
            event: 'inventory.versions_unreadable',
            database: row.name,
            error: errorMessage(err),
          });
          return undefined;
        });
        database.edfiOdsVersion = versions?.recordset[0]?.ods_version ?? null;
        database.edfiStandardVersion = versions?.recordset[0]?.standard_version ?? null;
      }
      surveyed.push(database);
    }
    return surveyed;
  }

  isTransient(err: unknown): boolean {
    if (err instanceof PermanentJobError) return false;
    if ((err as { code?: unknown } | null)?.code === STAGING_BUSY) return true;
    return isTransientMssqlError(err);
  }

  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = undefined;
    if (pool) await (await pool.catch(() => undefined))?.close();
  }

  /** Ends the database's sessions (their transactions roll back) and drops it; gone already is done. */
  private async dropDatabase(db: MssqlDatabase): Promise<void> {
    try {
      // SINGLE_USER needs an ONLINE database; a RESTORING or SUSPECT one has no sessions to end.
      if (!this.azure && db.state === 'ONLINE') await this.run(statements.setSingleUser(db.name));
      await this.run(statements.dropDatabase(db.name));
    } catch (err) {
      if (hasErrorNumber(err, MSSQL_ERROR.databaseMissing)) return;
      throw err;
    }
  }

  /** Proves the database opens and takes writes: a table created and rolled back, on a session connected to it. */
  private async assertWritable(name: string): Promise<void> {
    try {
      await this.withSession(name, (s) => s.request().batch(statements.WRITE_PROBE));
    } catch (err) {
      if (this.isTransient(err)) throw err;
      throw new PermanentJobError(`database "${name}" does not accept writes: ${errorMessage(err)}`);
    }
  }

  /**
   * A long statement on a session of its own, without a timeout (a restore takes what it takes);
   * meanwhile a second session reads its percent_complete from sys.dm_exec_requests.
   */
  private async runLong(text: string, what: string): Promise<void> {
    await this.withSession(
      this.config.database ?? 'master',
      async (session) => {
        const id = (await session.request().query<{ session_id: number }>(statements.SESSION_ID)).recordset[0]
          ?.session_id;
        const watch = new AbortController();
        const watching = id === undefined ? Promise.resolve() : this.watchProgress(id, what, watch.signal);
        try {
          await session.request().batch(text);
        } finally {
          watch.abort();
          await watching;
        }
      },
      0,
    );
  }

  private async watchProgress(sessionId: number, what: string, signal: AbortSignal): Promise<void> {
    let last = -1;
    while (!signal.aborted) {
      await sleep(this.options.pollIntervalMs ?? 5_000, signal).catch(() => undefined);
      if (signal.aborted) return;
      try {
        const row = (
          await this.run<{ command: string; percent_complete: number }>(statements.REQUEST_PROGRESS, {
            session_id: sessionId,
          })
        ).recordset[0];
        const percent = row ? Math.floor(row.percent_complete) : -1;
        if (percent > last) {
          last = percent;
          this.progress(percent, what);
        }
      } catch {
        // Progress is a courtesy (it needs VIEW SERVER STATE); the statement's own outcome is what counts.
      }
    }
  }

  private progress(percent: number, message: string): void {
    // The worker routes the report to the job this copy belongs to (worker/jobs/progress.ts), which logs it.
    this.options.onProgress?.(percent, message);
  }

  /** A session connected to `database`, closed after `work`; requestTimeout 0 waits as long as it takes. */
  private async withSession<T>(
    database: string,
    work: (session: sql.ConnectionPool) => Promise<T>,
    requestTimeout = this.config.requestTimeout,
  ): Promise<T> {
    const session = traceStatements(
      new sql.ConnectionPool({ ...this.config, database, requestTimeout, pool: { max: 1, min: 0 } }),
      database,
    );
    session.on('error', () => undefined);
    await session.connect();
    try {
      return await work(session);
    } finally {
      await session.close().catch(() => undefined);
    }
  }

  /** One statement, alone and in autocommit, on the shared pool: a batch, or a query when it takes @parameters. */
  private async run<T = Record<string, unknown>>(
    text: string,
    parameters?: Record<string, string | number>,
  ): Promise<sql.IResult<T>> {
    const request = (await this.connected()).request();
    if (!parameters) return request.batch<T>(text);
    for (const [key, value] of Object.entries(parameters))
      request.input(key, typeof value === 'number' ? sql.Int : sql.NVarChar(128), value);
    return request.query<T>(text);
  }

  private connected(): Promise<sql.ConnectionPool> {
    this.pool ??= (async () => {
      // Inside a job's trace each statement is a span (docs/tracing.md).
      const pool = traceStatements(new sql.ConnectionPool(this.config), this.config.database);
      pool.on('error', (err: Error) =>
        this.options.log.warn('ODS server connection error', { event: 'ods_server.error', error: err.message }),
      );
      return pool.connect();
    })().catch((err) => {
      this.pool = undefined;
      throw err;
    });
    return this.pool;
  }

  /** Only an ONLINE database's marker can be read: any other is refused, saying why. */
  private assertOwned(db: MssqlDatabase, instanceId: string, action: string): void {
    assertOwned(db, instanceId, action, {
      unmanaged: db.valid ? undefined : `is ${db.state}, so its ownership marker cannot be read`,
    });
  }

  private async step(name: string): Promise<void> {
    await this.options.onStep?.(name);
  }
}
