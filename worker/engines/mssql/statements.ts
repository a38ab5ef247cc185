import type { DatabaseState, SurveyedDatabase } from '../engine';
import { bracket, quote as q } from './names';

/**
 * Every statement the SQL Server driver sends, built in one place so that the plan a DBA
 * reviews and the statements the worker runs are the same text. Instance and staging names are
 * validated and bracket-quoted by names.quote, the configured template by names.bracket; every
 * other literal (paths, the marker, an ARN) goes through `literal`. Looks take @parameters;
 * DDL cannot, so it carries literals. Each runs alone, in autocommit: BACKUP, RESTORE and
 * CREATE/ALTER/DROP DATABASE cannot run inside a transaction.
 */

/** An N'…' Unicode string literal, quotes doubled. */
export function literal(text: string): string {
  if (text.includes('\u0000')) throw new Error('refusing a string literal with a NUL character');
  return `N'${text.replace(/'/g, "''")}'`;
}

/** The database-level extended property that carries the ownership marker. */
export const MARKER_PROPERTY = 'odsim.owner';

export const DESCRIBE_DATABASE =
  'SELECT name, state_desc, user_access_desc, is_read_only FROM sys.databases WHERE name = @name';

/** Databases whose marker the drop's look reads, when the database is gone (renamed by hand?). */
export const USER_DATABASES =
  "SELECT name FROM sys.databases WHERE database_id > 4 AND state_desc = N'ONLINE' ORDER BY name";

/**
 * The marker of `database`, through a three-part name from master; without `database`, on a
 * session connected to the database itself (Azure SQL Database has no cross-database names).
 */
export function readMarker(database?: string): string {
  const catalog = database ? `${q(database)}.sys.extended_properties` : 'sys.extended_properties';
  return `SELECT CAST(value AS nvarchar(4000)) AS marker FROM ${catalog} WHERE class = 0 AND name = ${literal(MARKER_PROPERTY)}`;
}

/**
 * Sets the marker, replacing one the copy brought along (a .bak taken from a managed database
 * carries its instance's marker; the staging database is this job's own, so replacing it is safe).
 */
export function markOwner(marker: string, database?: string): string {
  const prefix = database ? `${q(database)}.` : '';
  const args = `@name = ${literal(MARKER_PROPERTY)}, @value = ${literal(marker)}`;
  return (
    `IF EXISTS (SELECT 1 FROM ${prefix}sys.extended_properties WHERE class = 0 AND name = ${literal(MARKER_PROPERTY)}) ` +
    `EXEC ${prefix}sys.sp_updateextendedproperty ${args} ` +
    `ELSE EXEC ${prefix}sys.sp_addextendedproperty ${args}`
  );
}

/** Removes the marker (a release), if it is there: the database is kept, unmanaged. */
export function clearOwner(database?: string): string {
  const prefix = database ? `${q(database)}.` : '';
  return (
    `IF EXISTS (SELECT 1 FROM ${prefix}sys.extended_properties WHERE class = 0 AND name = ${literal(MARKER_PROPERTY)}) ` +
    `EXEC ${prefix}sys.sp_dropextendedproperty @name = ${literal(MARKER_PROPERTY)}`
  );
}

/** The directories the server uses when none is configured (each ends with a separator). */
export const SERVER_DEFAULT_PATHS =
  "SELECT CAST(SERVERPROPERTY('InstanceDefaultDataPath') AS nvarchar(4000)) AS data_path, " +
  "CAST(SERVERPROPERTY('InstanceDefaultLogPath') AS nvarchar(4000)) AS log_path, " +
  "CAST(SERVERPROPERTY('InstanceDefaultBackupPath') AS nvarchar(4000)) AS backup_path";

/** `file` in `directory`, with the directory's own separator (\ on Windows, / on Linux). */
export function serverPath(directory: string, file: string): string {
  const separator = directory.includes('\\') || /^[A-Za-z]:/.test(directory) ? '\\' : '/';
  return directory.endsWith('\\') || directory.endsWith('/') ? directory + file : directory + separator + file;
}

/**
 * One file per template, overwritten by each backup (INIT), so the directory never grows and no
 * file needs deleting (SQL Server deletes files only through xp_cmdshell or the undocumented
 * xp_delete_file). Characters unsafe in a file name become underscores.
 */
export function templateBackupFileName(template: string): string {
  return `odsim_template_${template.replace(/[^A-Za-z0-9_.-]/g, '_')}.bak`;
}

/**
 * COPY_ONLY leaves the template's backup chain alone; INIT overwrites the file's backup sets
 * (not FORMAT, which would also rewrite a media header some other tool wrote); CHECKSUM
 * verifies every page. No COMPRESSION: Express and Web editions refuse it, and the server's
 * `backup compression default` applies anyway.
 */
export function backupDatabase(template: string, file: string): string {
  return `BACKUP DATABASE ${bracket(template)} TO DISK = ${literal(file)} WITH COPY_ONLY, INIT, CHECKSUM`;
}

/** The logical files a backup holds (LogicalName, Type: D data, L log, S FILESTREAM, F full-text). */
export function fileListOnly(file: string): string {
  return `RESTORE FILELISTONLY FROM DISK = ${literal(file)}`;
}

export interface BackupFile {
  logicalName: string;
  type: string;
}

export interface FileMove {
  logicalName: string;
  physicalPath: string;
}

/**
 * Where each file of the restored copy goes: named after the staging database (it carries the
 * job id, so it never meets another database's files), data and FILESTREAM in the data
 * directory, logs in the log directory.
 */
export function filePlacement(files: BackupFile[], database: string, dataPath: string, logPath: string): FileMove[] {
  const counts: Record<string, number> = {};
  return files.map(({ logicalName, type }) => {
    const kind = type.trim().toUpperCase();
    const n = (counts[kind] = (counts[kind] ?? 0) + 1);
    const suffix = n === 1 ? '' : `_${n}`;
    if (kind === 'L') return { logicalName, physicalPath: serverPath(logPath, `${database}${suffix}.ldf`) };
    if (kind === 'D')
      return { logicalName, physicalPath: serverPath(dataPath, `${database}${suffix}.${n === 1 ? 'mdf' : 'ndf'}`) };
    return { logicalName, physicalPath: serverPath(dataPath, `${database}_${kind.toLowerCase()}${n}`) };
  });
}

/** Never REPLACE: a restore onto a name that exists fails (3154) instead of overwriting it. */
export function restoreDatabase(database: string, file: string, moves: FileMove[]): string {
  const clauses = moves.map((m) => `MOVE ${literal(m.logicalName)} TO ${literal(m.physicalPath)}`);
  return `RESTORE DATABASE ${q(database)} FROM DISK = ${literal(file)} WITH ${[...clauses, 'RECOVERY', 'STATS = 5'].join(', ')}`;
}

/**
 * Schema only, and read-only until SET READ_WRITE. Microsoft supports clones for diagnostics,
 * not production, and Ed-Fi templates carry rows (descriptors…): an explicit choice, never the default.
 * VERIFY_CLONEDB checks the clone's consistency and implies NO_STATISTICS and NO_QUERYSTORE, so
 * the template's statistics do not mislead the optimizer about an empty database.
 */
export function cloneDatabase(template: string, database: string): string {
  return `DBCC CLONEDATABASE (${bracket(template)}, ${q(database)}) WITH VERIFY_CLONEDB`;
}

export function setReadWrite(database: string): string {
  return `ALTER DATABASE ${q(database)} SET READ_WRITE`;
}

/** Azure SQL Database, in master: returns at once; the copy goes on (sys.databases says COPYING). */
export function copyDatabase(database: string, template: string): string {
  return `CREATE DATABASE ${q(database)} AS COPY OF ${bracket(template)}`;
}

export const COPY_STATUS =
  'SELECT d.state_desc, c.percent_complete, c.error_code, c.error_desc FROM sys.databases d ' +
  'LEFT JOIN sys.dm_database_copies c ON c.database_id = d.database_id WHERE d.name = @name';

/** RDS for SQL Server: a native restore from S3, run as a task. */
export function rdsRestore(database: string, s3Arn: string): string {
  // The procedure takes a name, not an identifier: the validated name as a literal.
  q(database);
  return `exec msdb.dbo.rds_restore_database @restore_db_name = ${literal(database)}, @s3_arn_to_restore_from = ${literal(s3Arn)}`;
}

/** Rows: task_id, task_type, lifecycle (CREATED, IN_PROGRESS, SUCCESS, ERROR…), "% complete", task_info. */
export function rdsTaskStatus(database: string): string {
  q(database);
  return `exec msdb.dbo.rds_task_status @db_name = ${literal(database)}`;
}

/** Ends every other session in the database (their transactions roll back) and lets one in. */
export function setSingleUser(database: string): string {
  return `ALTER DATABASE ${q(database)} SET SINGLE_USER WITH ROLLBACK IMMEDIATE`;
}

export function setMultiUser(database: string): string {
  return `ALTER DATABASE ${q(database)} SET MULTI_USER`;
}

/** Alone in its batch (Azure SQL Database requires it). */
export function dropDatabase(database: string): string {
  return `DROP DATABASE ${q(database)}`;
}

export function renameDatabase(from: string, to: string): string {
  return `ALTER DATABASE ${q(from)} MODIFY NAME = ${q(to)}`;
}

/**
 * Run on a session connected to the new database: proves it opens and takes writes, and keeps
 * nothing (XACT_ABORT rolls back on any error, and the session is closed after).
 */
export const WRITE_PROBE =
  'SET XACT_ABORT ON; BEGIN TRANSACTION; CREATE TABLE dbo.odsim_write_probe (id int); ' +
  'DROP TABLE dbo.odsim_write_probe; ROLLBACK TRANSACTION;';

/** The session a long statement runs on, so that another session can read its progress. */
export const SESSION_ID = 'SELECT @@SPID AS session_id';

/** Progress of a BACKUP or RESTORE (needs VIEW SERVER STATE to see another session). */
export const REQUEST_PROGRESS =
  'SELECT command, percent_complete FROM sys.dm_exec_requests WHERE session_id = @session_id';

/** What the login may do, checked when a worker starts (index.ts's prepare). */
export const LOGIN_PERMISSIONS =
  "SELECT HAS_PERMS_BY_NAME(NULL, NULL, 'CREATE ANY DATABASE') AS create_any_database, " +
  "IS_SRVROLEMEMBER('sysadmin') AS sysadmin, IS_SRVROLEMEMBER('dbcreator') AS dbcreator, " +
  "HAS_PERMS_BY_NAME(@template, 'DATABASE', 'BACKUP DATABASE') AS backup_template, " +
  "HAS_PERMS_BY_NAME(NULL, NULL, 'VIEW SERVER STATE') AS view_server_state";

/** RDS for SQL Server: whether the login may start a native restore. */
export const RDS_RESTORE_PERMISSION =
  "SELECT HAS_PERMS_BY_NAME('msdb.dbo.rds_restore_database', 'OBJECT', 'EXECUTE') AS allowed";

/**
 * Inventory (not yet run by the SQL Server driver): every user database with its state, size
 * (data and log files, 8 KB pages), sessions and access, in one look from master.
 */
export const SURVEY_DATABASES = `SELECT d.name, d.state_desc, d.user_access_desc, d.is_read_only,
       CAST((SELECT SUM(CAST(f.size AS bigint)) FROM sys.master_files f WHERE f.database_id = d.database_id) * 8192 AS bigint) AS size_bytes,
       (SELECT COUNT(*) FROM sys.dm_exec_sessions s WHERE s.database_id = d.database_id AND s.session_id <> @@SPID) AS connections
  FROM sys.databases d
 WHERE d.database_id > 4
 ORDER BY d.name`;

/** Run on a session connected to one online database: Ed-Fi's version functions, null where absent. */
export const EDFI_VERSIONS =
  "SELECT CASE WHEN OBJECT_ID(N'util.GetEdFiOdsVersion') IS NOT NULL THEN CAST(util.GetEdFiOdsVersion() AS nvarchar(64)) END AS ods_version, " +
  "CASE WHEN OBJECT_ID(N'util.GetEdFiStandardVersion') IS NOT NULL THEN CAST(util.GetEdFiStandardVersion() AS nvarchar(64)) END AS standard_version";

/** One row of SURVEY_DATABASES. */
export interface SurveyRow {
  name: string;
  state_desc: string;
  user_access_desc: string;
  is_read_only: boolean;
  size_bytes: string | number | null;
  connections: number | null;
}

/** A SURVEY_DATABASES row as the inventory sees it, before its marker and versions are read. */
export function surveyedDatabase(row: SurveyRow): SurveyedDatabase {
  const state = surveyState(row);
  return {
    name: row.name,
    sizeBytes: row.size_bytes === null ? null : Number(row.size_bytes),
    state,
    connections: row.connections,
    allowsConnections: state === 'online' || state === 'read-only' || state === 'restricted-user',
    markerInstanceId: null,
    edfiOdsVersion: null,
    edfiStandardVersion: null,
  };
}

/** SQL Server's state_desc, user access and read-only flag as the inventory's normalized state. */
export function surveyState(row: {
  state_desc: string;
  user_access_desc: string;
  is_read_only: boolean;
}): DatabaseState {
  switch (row.state_desc) {
    case 'ONLINE':
      if (row.is_read_only) return 'read-only';
      if (row.user_access_desc === 'SINGLE_USER') return 'single-user';
      if (row.user_access_desc === 'RESTRICTED_USER') return 'restricted-user';
      return 'online';
    case 'RESTORING':
      return 'restoring';
    case 'RECOVERING':
      return 'recovering';
    case 'RECOVERY_PENDING':
      return 'recovery-pending';
    case 'SUSPECT':
      return 'suspect';
    case 'EMERGENCY':
      return 'emergency';
    default:
      return 'offline';
  }
}

/**
 * The marker of any database the survey found, whatever its name (made by hand, it may break the
 * manager's naming rules): bracket-quoted, not validated.
 */
export function surveyMarker(database: string): string {
  return `SELECT CAST(value AS nvarchar(4000)) AS marker FROM ${bracket(database)}.sys.extended_properties WHERE class = 0 AND name = ${literal(MARKER_PROPERTY)}`;
}
