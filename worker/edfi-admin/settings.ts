import { ConfigurationError } from '../../shared/errors';
import { parseTenantIds, tenantEnvSuffix } from '../../shared/tenants';
import { parseEncryptionKey } from './connection-string-crypto';

/**
 * Where and how the worker registers instances in EdFi_Admin. Worker only: the API never reads
 * these (the key and the ODS/API's login are secrets the API has no use for).
 */
export interface EdFiAdminTarget {
  /** '' without tenants. */
  tenant: string;
  /** postgres:// URL of this tenant's EdFi_Admin, with a login that may write its dbo tables. */
  databaseUrl: string;
  /** The ODS/API's OdsConnectionStringEncryptionKey, decoded (32 bytes). */
  encryptionKey: Buffer;
  /** The connection string the ODS/API should use, with `{databaseName}` in it. */
  odsConnectionString: string;
}

/** One target per tenant that has registration on; empty when registration is off. */
export type RegistrationSettings = ReadonlyMap<string, EdFiAdminTarget>;

export const DATABASE_NAME_PLACEHOLDER = '{databaseName}';
const POSTGRES_URL = /^postgres(ql)?:\/\/.+/;

const URL_SETTING = 'EDFI_ADMIN_DATABASE_URL';
const KEY_SETTING = 'EDFI_ADMIN_ENCRYPTION_KEY';
/** The secret settings (each also with a `_<TENANT>` suffix): the EdFi_Admin login and the ODS/API's key. */
export const REGISTRATION_SECRET_SETTINGS = [URL_SETTING, KEY_SETTING] as const;
const CONNECTION_SETTING = 'EDFI_ODS_CONNECTION_STRING';

/**
 * Without `TENANTS`: one EdFi_Admin from EDFI_ADMIN_DATABASE_URL, on when it is set. With
 * `TENANTS=a,b`: each tenant's own EDFI_ADMIN_DATABASE_URL_<SUFFIX> (and key, and connection
 * string, which may fall back to the unsuffixed one). Values are never quoted in the messages.
 */
export function loadRegistrationSettings(env: NodeJS.ProcessEnv): RegistrationSettings {
  const read = (name: string) => (env[name] ?? '').trim();
  const problems: string[] = [];
  const targets = new Map<string, EdFiAdminTarget>();
  let tenants: string[];
  try {
    tenants = parseTenantIds(env.TENANTS);
  } catch (err) {
    throw new ConfigurationError([(err as Error).message]);
  }

  const target = (tenant: string, suffix: string, connectionFallback: string) => {
    const urlName = URL_SETTING + suffix;
    const keyName = KEY_SETTING + suffix;
    const url = read(urlName);
    if (!url) return;
    if (!POSTGRES_URL.test(url)) problems.push(`${urlName}=(hidden): must be a postgres:// URL`);
    const keyText = read(keyName);
    const key = keyText ? parseEncryptionKey(keyText) : null;
    if (!keyText) problems.push(`${keyName} is required when ${urlName} is set (the ODS/API's encryption key)`);
    else if (!key) problems.push(`${keyName}=(hidden): must be the base64 encoding of exactly 32 bytes`);
    const connectionName = read(CONNECTION_SETTING + suffix) ? CONNECTION_SETTING + suffix : connectionFallback;
    const connection = connectionName ? read(connectionName) : '';
    if (!connection) {
      problems.push(
        `${CONNECTION_SETTING + suffix} is required when ${urlName} is set (the ODS/API's own connection string, with ${DATABASE_NAME_PLACEHOLDER})`,
      );
    } else if (!connection.includes(DATABASE_NAME_PLACEHOLDER)) {
      problems.push(`${connectionName}=(hidden): must contain ${DATABASE_NAME_PLACEHOLDER}`);
    }
    if (key && connection)
      targets.set(tenant, { tenant, databaseUrl: url, encryptionKey: key, odsConnectionString: connection });
  };

  if (!tenants.length) {
    target('', '', '');
  } else {
    if (read(URL_SETTING))
      problems.push(
        `${URL_SETTING} is not used when TENANTS is set: give each tenant its own ${URL_SETTING}_<TENANT> (e.g. ${URL_SETTING}_${tenantEnvSuffix(tenants[0]!)})`,
      );
    for (const tenant of tenants)
      target(tenant, `_${tenantEnvSuffix(tenant)}`, read(CONNECTION_SETTING) ? CONNECTION_SETTING : '');
  }
  if (problems.length) throw new ConfigurationError(problems);
  return targets;
}

/** The connection string for one ODS database: the placeholder replaced wherever it stands. */
export function odsConnectionStringFor(template: string, databaseName: string): string {
  // Validated database names have no ';', '=' or quotes, but this is a connection string: say so if one ever does.
  if (/[;='"{}]/.test(databaseName)) throw new Error(`database name not fit for a connection string`);
  return template.split(DATABASE_NAME_PLACEHOLDER).join(databaseName);
}

/** The database a `key=value;…` connection string names (Database, or SQL Server's Initial Catalog), or null. */
export function databaseNameIn(connectionString: string): string | null {
  for (const pair of connectionString.split(';')) {
    const at = pair.indexOf('=');
    if (at < 0) continue;
    const key = pair.slice(0, at).trim().toLowerCase().replace(/\s+/g, ' ');
    if (key === 'database' || key === 'initial catalog' || key === 'db') return pair.slice(at + 1).trim();
  }
  return null;
}
