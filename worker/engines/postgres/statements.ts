import { quote as q } from './names';
import type { PostgresCreateStrategy } from './settings';

/**
 * Every statement the PostgreSQL driver sends, built in one place so that the plan a DBA
 * reviews (`?dryRun=true`, `cli plan`) and the statements the worker runs are the same text.
 * Names are validated and double-quoted by names.quote; the only literal is the marker.
 */

/** A string literal: quotes doubled, and E'' with backslashes doubled when one appears. */
export function literal(text: string): string {
  const body = text.replace(/'/g, "''");
  return text.includes('\\') ? `E'${body.replace(/\\/g, '\\\\')}'` : `'${body}'`;
}

export const PG_VERSION = {
  /** DROP DATABASE … WITH (FORCE) */
  dropForce: 130000,
  /** pg_terminate_backend(pid, timeout) waits for the backend to go */
  terminateWaits: 140000,
  /** CREATE DATABASE … STRATEGY */
  createStrategy: 150000,
} as const;

/** The databases whose names are in $1 (a text array), with what a job needs to know of each. */
export const DESCRIBE_DATABASES =
  "SELECT datname, datallowconn, datconnlimit, shobj_description(oid, 'pg_database') AS marker FROM pg_database WHERE datname = ANY($1::text[])";

export const DATABASES_WITH_MARKERS = `SELECT datname, marker FROM (SELECT datname, shobj_description(oid, 'pg_database') AS marker FROM pg_database) d
       WHERE strpos(marker, $1) > 0 ORDER BY datname`;

export const SERVER_VERSION = 'SHOW server_version_num';
/** $1: a database; its size in bytes (as text), for the copy strategy chosen by size. */
export const DATABASE_SIZE = 'SELECT pg_database_size($1)::text AS bytes';

/**
 * Sent once on each new pooled session, before any statement of an operation: 14+ then notices a
 * client that went away and stops its backend. Older servers refuse the setting; the error is ignored.
 */
export const SESSION_SETUP = 'SET client_connection_check_interval = 2000';

export function createFromTemplate(
  name: string,
  template: string,
  strategy: PostgresCreateStrategy,
  version: number,
): string {
  const clause = version >= PG_VERSION.createStrategy && strategy ? ` STRATEGY = ${strategy.toUpperCase()}` : '';
  return `CREATE DATABASE ${q(name)} TEMPLATE ${q(template)}${clause}`;
}

export function markOwner(name: string, marker: string): string {
  return `COMMENT ON DATABASE ${q(name)} IS ${literal(marker)}`;
}

/** Removes the marker (a release): the database is kept, unmanaged. */
export function clearOwner(name: string): string {
  return `COMMENT ON DATABASE ${q(name)} IS NULL`;
}

export function renameDatabase(from: string, to: string): string {
  return `ALTER DATABASE ${q(from)} RENAME TO ${q(to)}`;
}

export function allowConnections(name: string, allow: boolean): string {
  return `ALTER DATABASE ${q(name)} ALLOW_CONNECTIONS ${allow ? 'true' : 'false'}`;
}

/** 13+: one statement that ends the database's sessions and drops it. */
export function dropForce(name: string): string {
  return `DROP DATABASE IF EXISTS ${q(name)} WITH (FORCE)`;
}

/** 11–12, after connections are shut out and sessions ended. */
export function dropPlain(name: string): string {
  return `DROP DATABASE IF EXISTS ${q(name)}`;
}

/** Ends every session on the database named by $1 but this one; 14+ waits up to 5 s for each. */
export function terminateSessions(version: number): string {
  const call = version >= PG_VERSION.terminateWaits ? 'pg_terminate_backend(pid, 5000)' : 'pg_terminate_backend(pid)';
  return `SELECT ${call} FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`;
}

/**
 * Run on a session connected to the new database: proves it takes writes and leaves nothing.
 * In a schema of its own, which the database's owner may always create: `public` may belong to
 * whoever restored the template (PostgreSQL 15+ grants no CREATE on it to others), as on RDS,
 * Azure and Cloud SQL, where the worker is not a superuser.
 *
 * One round trip: sent as a single simple query, the statements run in order and an error stops
 * the rest (the session is closed after it in any case).
 */
export const WRITE_PROBE =
  'BEGIN; CREATE SCHEMA odsim_write_probe; CREATE TABLE odsim_write_probe.probe (id int); ROLLBACK';

/** Databases an inventory leaves out: PostgreSQL's own and the managed services' maintenance databases. */
export const SYSTEM_DATABASES = [
  'template0',
  'template1',
  'postgres',
  'rdsadmin',
  'azure_maintenance',
  'azure_sys',
  'cloudsqladmin',
];

/**
 * Every other database with its size, sessions, marker and read-only setting, in one look. The
 * size is read only where the login may (CONNECT or pg_read_all_stats) and never of a database
 * left invalid by an interrupted drop. `$1`: the system databases.
 */
export const SURVEY_DATABASES = `SELECT d.datname, d.datallowconn, d.datconnlimit,
       CASE WHEN d.datconnlimit <> -2 AND (has_database_privilege(d.oid, 'CONNECT') OR pg_has_role('pg_read_all_stats', 'MEMBER'))
            THEN pg_database_size(d.oid) END AS size_bytes,
       (SELECT count(*) FROM pg_stat_activity a WHERE a.datid = d.oid AND a.pid <> pg_backend_pid())::int AS connections,
       shobj_description(d.oid, 'pg_database') AS marker,
       EXISTS (SELECT 1 FROM pg_db_role_setting s WHERE s.setdatabase = d.oid AND s.setrole = 0
               AND 'default_transaction_read_only=on' = ANY (s.setconfig)) AS read_only,
       pg_is_in_recovery() AS in_recovery
  FROM pg_database d
 WHERE NOT (d.datname = ANY ($1::text[]))
 ORDER BY d.datname`;

/**
 * Run on a session connected to one database: Ed-Fi's version functions, if it has them. Ed-Fi's
 * PostgreSQL scripts create them unquoted (so in lower case); compared case-insensitively anyway.
 */
export const EDFI_VERSION_FUNCTIONS = `SELECT n.nspname, p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE lower(n.nspname) = 'util' AND lower(p.proname) IN ('getedfiodsversion', 'getedfistandardversion') AND p.pronargs = 0`;

/** Calls a version function found by EDFI_VERSION_FUNCTIONS (its catalog names, double-quoted). */
export function callVersionFunction(schema: string, name: string): string {
  const ident = (text: string) => `"${text.replace(/"/g, '""')}"`;
  return `SELECT ${ident(schema)}.${ident(name)}()::text AS version`;
}
