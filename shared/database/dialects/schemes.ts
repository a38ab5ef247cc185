import type { AdminDialectName } from './dialect';

/** ADMIN_DATABASE_URL schemes, and the dialect each means (read by config without loading the drivers). */
export const ADMIN_URL_SCHEMES: Readonly<Record<string, AdminDialectName>> = {
  postgres: 'postgres',
  postgresql: 'postgres',
  mssql: 'mssql',
  sqlserver: 'mssql',
};

/** The dialect an admin database URL names, or undefined for an unknown scheme. */
export function adminDialectNameOf(url: string): AdminDialectName | undefined {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\/./i.exec(url)?.[1]?.toLowerCase();
  return scheme && Object.hasOwn(ADMIN_URL_SCHEMES, scheme) ? ADMIN_URL_SCHEMES[scheme] : undefined;
}
