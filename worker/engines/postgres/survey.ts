import { Client, type ClientConfig, type Pool } from 'pg';
// The leaf module, not the folder's index: that one imports the engine registry, which imports this file.
import { STAGING_PREFIX } from '../../../shared/database-names/staging';
import { errorCode, SQLSTATE } from '../../../shared/database/postgres-errors';
import { errorMessage } from '../../../shared/errors';
import type { Logger } from '../../../shared/logger';
import { sameServerUrl } from '../../../shared/urls';
import { type DatabaseState, parseOwnershipMarker, type SurveyedDatabase } from '../engine';
import * as sql from './statements';

interface SurveyRow {
  datname: string;
  datallowconn: boolean;
  datconnlimit: number;
  size_bytes: string | null;
  connections: number;
  marker: string | null;
  read_only: boolean;
  in_recovery: boolean;
}

export interface SurveyOptions {
  pool: Pool;
  serverUrl: string;
  /** Session options of the driver (timeouts, application name), for the per-database version look. */
  sessionOptions: (connectionString: string) => ClientConfig;
  log: Logger;
  /** Databases whose versions are read at once. */
  concurrency?: number;
  /** Longest connect and statement time of each database's version look. */
  timeoutMs?: number;
  /**
   * Versions read by earlier surveys, by database name with the size they were read at: a
   * database of the same size is not opened again. A template being copied must have no other
   * session (CREATE DATABASE … TEMPLATE refuses with 55006), so an unchanged template is opened
   * once per worker process, not on every run; an upgrade changes its size, and it is read again.
   */
  versionCache?: Map<string, VersionsSeen>;
}

type Versions = Pick<SurveyedDatabase, 'edfiOdsVersion' | 'edfiStandardVersion'>;
export interface VersionsSeen {
  sizeBytes: number | null;
  versions: Versions;
}

/** Tries of the catalog look that lost a race with a database dropped meanwhile (its size is then unreadable). */
const ATTEMPTS = 3;

/**
 * Every non-system database of the server: one catalog look, then each connectable user
 * database's Ed-Fi versions on its own short session (two at a time). A database that cannot be
 * read gets null versions and a log line; the survey itself goes on.
 */
export async function surveyPostgres(options: SurveyOptions): Promise<SurveyedDatabase[]> {
  const rows = await readCatalog(options.pool);
  const databases = rows.map(toSurveyed);
  const probed = databases.filter(
    (d) => d.allowsConnections && d.state !== 'invalid' && !d.name.startsWith(STAGING_PREFIX),
  );
  const cache = options.versionCache;
  const seen = new Set(databases.map((d) => d.name));
  for (const name of cache?.keys() ?? []) if (!seen.has(name)) cache!.delete(name);
  const unread = probed.filter((database) => {
    const known = cache?.get(database.name);
    if (!known || known.sizeBytes === null || known.sizeBytes !== database.sizeBytes) return true;
    Object.assign(database, known.versions);
    return false;
  });
  await eachLimited(unread, options.concurrency ?? 2, async (database) => {
    const versions = await readVersions(options, database.name).catch((err: unknown) => {
      options.log.warn('could not read the Ed-Fi versions of a database', {
        event: 'inventory.versions_unreadable',
        database: database.name,
        error: errorMessage(err),
      });
      return null;
    });
    if (!versions) return;
    Object.assign(database, versions);
    cache?.set(database.name, { sizeBytes: database.sizeBytes, versions });
  });
  return databases;
}

async function readCatalog(pool: Pool): Promise<SurveyRow[]> {
  for (let attempt = 1; ; attempt++) {
    try {
      return (await pool.query<SurveyRow>(sql.SURVEY_DATABASES, [sql.SYSTEM_DATABASES])).rows;
    } catch (err) {
      // pg_database_size of a database dropped between the catalog read and the call.
      if (errorCode(err) !== SQLSTATE.undefinedDatabase || attempt >= ATTEMPTS) throw err;
    }
  }
}

function stateOf(row: SurveyRow): DatabaseState {
  if (row.datconnlimit === -2) return 'invalid';
  if (!row.datallowconn) return 'not-connectable';
  if (row.in_recovery || row.read_only) return 'read-only';
  return 'online';
}

function toSurveyed(row: SurveyRow): SurveyedDatabase {
  return {
    name: row.datname,
    sizeBytes: row.size_bytes === null ? null : Number(row.size_bytes),
    state: stateOf(row),
    connections: row.connections,
    allowsConnections: row.datallowconn,
    markerInstanceId: parseOwnershipMarker(row.marker),
    edfiOdsVersion: null,
    edfiStandardVersion: null,
  };
}

async function readVersions(options: SurveyOptions, database: string): Promise<Versions> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const client = new Client({
    ...options.sessionOptions(sameServerUrl(options.serverUrl, database)),
    connectionTimeoutMillis: timeoutMs,
    statement_timeout: timeoutMs,
  });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const found = await client.query<{ nspname: string; proname: string }>(sql.EDFI_VERSION_FUNCTIONS);
    const versions = { edfiOdsVersion: null as string | null, edfiStandardVersion: null as string | null };
    for (const { nspname, proname } of found.rows) {
      const value = (await client.query<{ version: string | null }>(sql.callVersionFunction(nspname, proname))).rows[0]
        ?.version;
      const key = proname.toLowerCase() === 'getedfiodsversion' ? 'edfiOdsVersion' : 'edfiStandardVersion';
      versions[key] = value?.slice(0, 64) ?? null;
    }
    return versions;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Runs `work` on every item, at most `limit` at a time. */
async function eachLimited<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}
