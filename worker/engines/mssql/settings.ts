import type { config as MssqlConfig } from 'mssql';
import type { ParsedSettings } from '../module';

/** How the staging copy of a template is made (docs/engines/sqlserver.md compares them). */
export const MSSQL_STRATEGIES = [
  'backup-restore',
  'restore-file',
  'clonedatabase',
  'azure-copy',
  'rds-restore',
] as const;
export type MssqlStrategy = (typeof MSSQL_STRATEGIES)[number];

/** A value for every template (`default`) and/or per template name (keys in lower case: names compare case-insensitively). */
export interface PerTemplate {
  default: string | null;
  byTemplate: Record<string, string>;
}

export interface MssqlSettings {
  /** ODS_MSSQL_STRATEGY; backup-restore unless set. */
  strategy: MssqlStrategy;
  /** ODS_MSSQL_TEMPLATE_STRATEGIES: per-template overrides, keys in lower case. */
  templateStrategies: Record<string, MssqlStrategy>;
  /** ODS_MSSQL_BACKUP_DIRECTORY; null: the server's default backup directory. */
  backupDirectory: string | null;
  /** ODS_MSSQL_DATA_PATH / ODS_MSSQL_LOG_PATH; null: the server's default data and log directories. */
  dataPath: string | null;
  logPath: string | null;
  /** ODS_MSSQL_TEMPLATE_BACKUP_FILE (restore-file): a .bak on the server. */
  templateBackupFiles: PerTemplate;
  /** ODS_MSSQL_RDS_S3_ARN (rds-restore): arn:aws:s3:::bucket/key.bak. */
  rdsS3Arns: PerTemplate;
}

/** The admin and quickstart default of ODS_TEMPLATE_DATABASE (shared/config.ts), checked here when unset. */
const DEFAULT_TEMPLATE = 'EdFi_Ods_Minimal_Template';

const S3_ARN = /^arn:aws[a-z-]*:s3:::[^/\s]+\/\S+$/;
/** A drive (C:\), a UNC share (\\host\share) or a POSIX root (/var/opt/mssql). */
const ABSOLUTE_PATH = /^([A-Za-z]:[\\/]|\\\\[^\\]|\/)/;

export function strategyFor(settings: MssqlSettings, template: string): MssqlStrategy {
  return settings.templateStrategies[template.toLowerCase()] ?? settings.strategy;
}

/**
 * A copy of an instance (docs/copy.md) is taken online, whatever the template's strategy: a
 * COPY_ONLY backup of the source restored under the staging name, or on Azure SQL Database a
 * database copy. RDS for SQL Server allows neither a backup to the server's disk nor a copy: null.
 */
export function copyStrategyFor(settings: MssqlSettings): MssqlStrategy | null {
  if (isAzureSqlDatabase(settings)) return 'azure-copy';
  return settings.strategy === 'rds-restore' ? null : 'backup-restore';
}

function perTemplate(values: PerTemplate, template: string): string | null {
  return values.byTemplate[template.toLowerCase()] ?? values.default;
}

export function templateBackupFile(settings: MssqlSettings, template: string): string | null {
  return perTemplate(settings.templateBackupFiles, template);
}

export function rdsS3Arn(settings: MssqlSettings, template: string): string | null {
  return perTemplate(settings.rdsS3Arns, template);
}

/**
 * Azure SQL Database copies with CREATE DATABASE … AS COPY OF and nothing else; it has no
 * SINGLE_USER and no cross-database names, so drop, rename and the marker differ too.
 */
export function isAzureSqlDatabase(settings: MssqlSettings): boolean {
  return settings.strategy === 'azure-copy';
}

/**
 * `value` for every template, or `Template=value,Other=value` (`*=value` for the rest). A value
 * may not contain a comma or an equals sign in the second form.
 */
function parsePerTemplate(variable: string, raw: string | undefined, problems: string[]): PerTemplate {
  const text = (raw ?? '').trim();
  const result: PerTemplate = { default: null, byTemplate: {} };
  if (!text) return result;
  if (!text.includes('=')) return { ...result, default: text };
  for (const entry of text.split(',').map((e) => e.trim())) {
    if (!entry) continue;
    const at = entry.indexOf('=');
    const name = entry.slice(0, at).trim();
    const value = entry.slice(at + 1).trim();
    if (at < 0 || !name || !value) {
      problems.push(`${variable}: "${entry}" is not of the form Template=value`);
      continue;
    }
    if (name.length > 128) {
      problems.push(`${variable}: template name "${name.slice(0, 20)}…" is longer than 128 characters`);
      continue;
    }
    const key = name.toLowerCase();
    if (name === '*') {
      if (result.default !== null) problems.push(`${variable}: "*" is given twice`);
      result.default = value;
    } else if (key in result.byTemplate) problems.push(`${variable}: template "${name}" is given twice`);
    else result.byTemplate[key] = value;
  }
  return result;
}

function isStrategy(value: string): value is MssqlStrategy {
  return (MSSQL_STRATEGIES as readonly string[]).includes(value);
}

function pathProblem(variable: string, value: string): string | null {
  if (/[\u0000-\u001f]/.test(value)) return `${variable}: must not contain control characters`;
  if (!ABSOLUTE_PATH.test(value))
    return `${variable}=${JSON.stringify(value)}: must be an absolute path on the SQL Server machine (C:\\…, \\\\host\\share\\… or /var/opt/mssql/…)`;
  return null;
}

export function parseMssqlSettings(env: NodeJS.ProcessEnv): ParsedSettings<MssqlSettings> {
  const problems: string[] = [];
  const rawStrategy = (env.ODS_MSSQL_STRATEGY ?? '').trim().toLowerCase();
  let strategy: MssqlStrategy = 'backup-restore';
  if (rawStrategy && isStrategy(rawStrategy)) strategy = rawStrategy;
  else if (rawStrategy)
    problems.push(
      `ODS_MSSQL_STRATEGY=${JSON.stringify(env.ODS_MSSQL_STRATEGY)}: must be one of ${MSSQL_STRATEGIES.join(', ')}`,
    );

  const templateStrategies: Record<string, MssqlStrategy> = {};
  const perStrategy = parsePerTemplate('ODS_MSSQL_TEMPLATE_STRATEGIES', env.ODS_MSSQL_TEMPLATE_STRATEGIES, problems);
  if (perStrategy.default !== null)
    problems.push('ODS_MSSQL_TEMPLATE_STRATEGIES: must be Template=strategy pairs (use ODS_MSSQL_STRATEGY for all)');
  for (const [template, value] of Object.entries(perStrategy.byTemplate)) {
    const lowered = value.toLowerCase();
    if (isStrategy(lowered)) templateStrategies[template] = lowered;
    else
      problems.push(
        `ODS_MSSQL_TEMPLATE_STRATEGIES: "${value}" for template "${template}" must be one of ${MSSQL_STRATEGIES.join(', ')}`,
      );
  }

  const directory = (variable: string): string | null => {
    const value = (env[variable] ?? '').trim();
    if (!value) return null;
    const problem = pathProblem(variable, value);
    if (problem) problems.push(problem);
    return value;
  };
  const backupDirectory = directory('ODS_MSSQL_BACKUP_DIRECTORY');
  const dataPath = directory('ODS_MSSQL_DATA_PATH');
  const logPath = directory('ODS_MSSQL_LOG_PATH');

  const templateBackupFiles = parsePerTemplate(
    'ODS_MSSQL_TEMPLATE_BACKUP_FILE',
    env.ODS_MSSQL_TEMPLATE_BACKUP_FILE,
    problems,
  );
  for (const file of [templateBackupFiles.default, ...Object.values(templateBackupFiles.byTemplate)]) {
    const problem = file === null ? null : pathProblem('ODS_MSSQL_TEMPLATE_BACKUP_FILE', file);
    if (problem) problems.push(problem);
  }
  const rdsS3Arns = parsePerTemplate('ODS_MSSQL_RDS_S3_ARN', env.ODS_MSSQL_RDS_S3_ARN, problems);
  for (const arn of [rdsS3Arns.default, ...Object.values(rdsS3Arns.byTemplate)]) {
    if (arn !== null && !S3_ARN.test(arn))
      problems.push(
        `ODS_MSSQL_RDS_S3_ARN=${JSON.stringify(arn)}: must be an S3 object ARN, arn:aws:s3:::bucket/key.bak`,
      );
  }

  const settings: MssqlSettings = {
    strategy,
    templateStrategies,
    backupDirectory,
    dataPath,
    logPath,
    templateBackupFiles,
    rdsS3Arns,
  };

  // Each template whose strategy is known needs what that strategy reads.
  // Keyed in lower case (names compare case-insensitively), shown as the operator spelled them.
  const templates = new Map(Object.keys(templateStrategies).map((t) => [t, t]));
  const configured = (env.ODS_TEMPLATE_DATABASE ?? '').trim() || DEFAULT_TEMPLATE;
  templates.set(configured.toLowerCase(), configured);
  for (const template of templates.values()) {
    const chosen = strategyFor(settings, template);
    if (chosen === 'restore-file' && !templateBackupFile(settings, template))
      problems.push(
        `ODS_MSSQL_TEMPLATE_BACKUP_FILE: the restore-file strategy needs a .bak path for template "${template}"`,
      );
    if (chosen === 'rds-restore' && !rdsS3Arn(settings, template))
      problems.push(`ODS_MSSQL_RDS_S3_ARN: the rds-restore strategy needs an S3 ARN for template "${template}"`);
  }
  // Azure SQL Database has no BACKUP, RESTORE or DBCC CLONEDATABASE; no other server has AS COPY OF.
  const strategies = new Set([strategy, ...Object.values(templateStrategies)]);
  if (strategies.has('azure-copy') && strategies.size > 1)
    problems.push(
      'ODS_MSSQL_TEMPLATE_STRATEGIES: azure-copy (Azure SQL Database) cannot be mixed with other strategies; set ODS_MSSQL_STRATEGY=azure-copy and use it for every template',
    );
  return { settings, problems };
}

/** The query options an ODS_SERVER_URL may carry, lower-cased, and the kind of value each takes. */
const URL_OPTIONS = {
  encrypt: 'boolean',
  trustservercertificate: 'boolean',
  instancename: 'text',
  connecttimeout: 'milliseconds',
} as const;

export interface MssqlUrlParts {
  config: MssqlConfig;
  problems: string[];
}

const BOOLEAN: Record<string, boolean> = { true: true, yes: true, '1': true, false: false, no: false, '0': false };

/**
 * `mssql://user:password@host[:port][/database][?encrypt=true&trustServerCertificate=false&instanceName=X&connectTimeout=15000]`
 * (`sqlserver://` too). The database defaults to master; the port to 1433 unless an instance
 * name is given (then the SQL Server Browser finds it). User and password are percent-decoded.
 * Problems never quote the URL or any part of its credentials.
 */
export function parseMssqlUrl(url: string): MssqlUrlParts {
  const problems: string[] = [];
  const empty: MssqlConfig = { server: '' };
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return {
      config: empty,
      problems: ['must be a mssql:// or sqlserver:// URL (mssql://user:password@host:1433/master)'],
    };
  }
  if (parsed.protocol !== 'mssql:' && parsed.protocol !== 'sqlserver:')
    return {
      config: empty,
      problems: ['must be a mssql:// or sqlserver:// URL (mssql://user:password@host:1433/master)'],
    };
  const server = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!server) problems.push('must name the server host (mssql://user:password@host:1433/master)');
  if (!parsed.username) problems.push('must carry a SQL Server login (mssql://user:password@host…)');
  let user = '';
  let password = '';
  try {
    user = decodeURIComponent(parsed.username);
    password = decodeURIComponent(parsed.password);
  } catch {
    problems.push('has a login or password that is not valid percent-encoding');
  }
  const path = parsed.pathname.replace(/^\//, '');
  let database = 'master';
  if (path.includes('/')) problems.push('must name at most one database in its path');
  else if (path) {
    try {
      database = decodeURIComponent(path);
    } catch {
      problems.push('has a database name that is not valid percent-encoding');
    }
  }
  const options: { encrypt: boolean; trustServerCertificate: boolean; instanceName?: string } = {
    encrypt: true,
    trustServerCertificate: false,
  };
  let connectionTimeout = 15_000;
  for (const [key, value] of parsed.searchParams) {
    const option = key.toLowerCase();
    const kind = URL_OPTIONS[option as keyof typeof URL_OPTIONS];
    if (!kind) {
      problems.push(
        `has an unknown option "${key}" (known: encrypt, trustServerCertificate, instanceName, connectTimeout)`,
      );
      continue;
    }
    if (kind === 'boolean') {
      const flag = BOOLEAN[value.toLowerCase()];
      if (flag === undefined) problems.push(`option "${key}" must be true or false`);
      else if (option === 'encrypt') options.encrypt = flag;
      else options.trustServerCertificate = flag;
    } else if (kind === 'milliseconds') {
      const ms = Number(value);
      if (!Number.isInteger(ms) || ms < 1000)
        problems.push(`option "${key}" must be a whole number of milliseconds, at least 1000`);
      else connectionTimeout = ms;
    } else if (value) options.instanceName = value;
    else problems.push(`option "${key}" must not be empty`);
  }
  let port: number | undefined = options.instanceName ? undefined : 1433;
  if (parsed.port) {
    port = Number(parsed.port);
    if (options.instanceName)
      problems.push('must not give both a port and an instanceName (the port finds the instance)');
  }
  const config: MssqlConfig = {
    server,
    ...(port === undefined ? {} : { port }),
    user,
    password,
    database,
    connectionTimeout,
    options: { ...options, appName: 'ods-instance-manager-worker' },
  };
  return { config, problems };
}

export function mssqlUrlProblems(url: string): string[] {
  return parseMssqlUrl(url).problems;
}
