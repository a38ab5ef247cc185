import type { DataSource } from 'typeorm';
import type { AdminDialect, AdminDialectName } from './dialect';
import { mssqlDialect } from './mssql';
import { postgresDialect } from './postgres';
import { ADMIN_URL_SCHEMES, adminDialectNameOf } from './schemes';

export { ADMIN_URL_SCHEMES, adminDialectNameOf };
export type {
  AdminDialect,
  AdminDialectName,
  AdminLockName,
  EventListening,
  LockSession,
  LockSessions,
} from './dialect';

const DIALECTS: Readonly<Record<AdminDialectName, AdminDialect>> = { postgres: postgresDialect, mssql: mssqlDialect };

/** The dialect of the admin database at `url`: chosen here, once, from its scheme. */
export function adminDialectFor(url: string): AdminDialect {
  const name = adminDialectNameOf(url);
  if (!name) throw new Error(`ADMIN_DATABASE_URL must start with ${Object.keys(ADMIN_URL_SCHEMES).join('://, ')}://`);
  return DIALECTS[name];
}

/** The dialect a DataSource was made with (its options carry the driver the dialect chose). */
export function dialectOf(dataSource: DataSource): AdminDialect {
  const type = dataSource.options.type;
  if (type === 'postgres' || type === 'mssql') return DIALECTS[type];
  throw new Error(`the admin database has no dialect for the ${type} driver`);
}
