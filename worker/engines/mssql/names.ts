import { STAGING_PREFIX } from '../../../shared/database-names/staging';

/** sysname is nvarchar(128): SQL Server refuses longer database names. */
export const maxLength = 128;

/**
 * The server's own databases, those its services install under their default names
 * (replication, Integration Services, Reporting Services, PolyBase) and RDS's.
 */
export const systemDatabases = [
  'master',
  'model',
  'msdb',
  'tempdb',
  'mssqlsystemresource',
  'distribution',
  'SSISDB',
  'ReportServer',
  'ReportServerTempDB',
  'DWConfiguration',
  'DWDiagnostics',
  'DWQueue',
  'rdsadmin',
] as const;

/**
 * ASCII letters, digits and underscores, starting with a letter: a subset of T-SQL's regular
 * identifiers, so the name means the same in every collation, needs no quoting in the ODS/API's
 * connection strings, Ed-Fi's deployment scripts and file names, and covers Ed-Fi's own names
 * (EdFi_Ods_255901_2026). T-SQL also allows @, # and $ in regular identifiers, but # and @
 * lead temporary objects and variables, and $ is awkward in shells; so none of them.
 */
const SHAPE = /^[A-Za-z][A-Za-z0-9_]*$/;

export function validate(name: string, reserved: ReadonlySet<string>): string[] {
  const problems: string[] = [];
  if (!SHAPE.test(name))
    problems.push('must start with a letter and contain only ASCII letters, digits and underscores');
  if (name.length > maxLength)
    problems.push(`must be at most ${maxLength} characters on SQL Server (got ${name.length})`);
  if (reserved.has(name.toLowerCase())) problems.push('is reserved (a system, admin or template database)');
  if (name.toLowerCase().startsWith(STAGING_PREFIX))
    problems.push(`must not start with "${STAGING_PREFIX}" (used while cloning)`);
  return problems;
}

/**
 * Any name as a bracket-quoted identifier, `]` doubled. For names the operator configured (the
 * template database), which need not follow the shape instance names do.
 */
export function bracket(name: string): string {
  if (name.length === 0 || name.length > maxLength || /[\u0000-\u001f]/.test(name)) {
    throw new Error(`refusing to quote an invalid SQL Server database name (${name.length} characters)`);
  }
  return `[${name.replace(/]/g, ']]')}]`;
}

/** Bracket-quoted instance or staging database name; refuses any name not of the validated shape. */
export function quote(name: string): string {
  if (!SHAPE.test(name) || name.length > maxLength) {
    throw new Error(`refusing to quote an invalid SQL Server database name (${name.length} characters)`);
  }
  return bracket(name);
}
