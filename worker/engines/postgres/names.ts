import { STAGING_PREFIX } from '../../../shared/database-names/staging';

/** PostgreSQL truncates identifiers to NAMEDATALEN-1 = 63 bytes without complaint: refuse instead. */
export const maxLength = 63;

/** The server's own databases and those of the cloud offerings (RDS, Azure, Cloud SQL). */
export const systemDatabases = [
  'postgres',
  'template0',
  'template1',
  'rdsadmin',
  'azure_maintenance',
  'azure_sys',
  'cloudsqladmin',
] as const;

const SHAPE = /^[A-Za-z][A-Za-z0-9_]*$/;

export function validate(name: string, reserved: ReadonlySet<string>): string[] {
  const problems: string[] = [];
  if (!SHAPE.test(name))
    problems.push('must start with a letter and contain only ASCII letters, digits and underscores');
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes > maxLength) problems.push(`must be at most ${maxLength} bytes on PostgreSQL (got ${bytes})`);
  if (reserved.has(name.toLowerCase())) problems.push('is reserved (a system, admin or template database)');
  if (name.toLowerCase().startsWith(STAGING_PREFIX))
    problems.push(`must not start with "${STAGING_PREFIX}" (used while cloning)`);
  return problems;
}

/** Double-quoted identifier. Only names of the validated shape are accepted, so no escaping is ever needed. */
export function quote(name: string): string {
  if (!SHAPE.test(name) || Buffer.byteLength(name, 'utf8') > maxLength) {
    throw new Error(`refusing to quote an invalid PostgreSQL database name (${name.length} characters)`);
  }
  return `"${name}"`;
}
