import { SOCKET_ERROR_CODES, TEDIOUS_CONNECTION_CODES } from '../../../shared/database/connection-codes';

/**
 * What a SQL Server error (as the mssql package raises it) means to this product: the one place
 * that knows SQL Server's error numbers and the package's connection codes.
 */

/** SQL Server error numbers the driver acts on. */
export const MSSQL_ERROR = {
  /** Transaction was deadlocked and chosen as the victim. */
  deadlockVictim: 1205,
  /** Lock request time out period exceeded. */
  lockRequestTimeout: 1222,
  /** Database already exists. */
  databaseExists: 1801,
  /** Cannot drop the database because it does not exist or you do not have permission. */
  databaseMissing: 3701,
  /** Cannot drop database because it is currently in use. */
  databaseInUse: 3702,
  /** Cannot open backup device (a path the service account cannot reach or write). */
  backupDevice: 3201,
  /** BACKUP/RESTORE DATABASE is terminating abnormally (follows the reason). */
  backupTerminated: 3013,
  /** The backup set holds a backup of a database other than the existing one (RESTORE onto a name that exists). */
  restoreOntoOther: 3154,
  /** The database could not be exclusively locked to perform the operation (sessions in it). */
  exclusiveLock: 5030,
  /** Database is already open and can only have one user at a time (SINGLE_USER, taken). */
  singleUserTaken: 924,
  /** Cannot open database requested by the login. */
  cannotOpenDatabase: 4060,
  /** The server principal is not able to access the database under the current security context. */
  noDatabaseAccess: 916,
  /** Permission denied on an object. */
  permissionDenied: 229,
  /** Permission denied in a database (CREATE DATABASE permission denied in database 'master'). */
  permissionDeniedInDatabase: 262,
  /** User does not have permission to perform this action. */
  noPermission: 15247,
  /** Azure SQL Database: one copy per source database at a time. */
  azureCopyLimit: 40565,
  /** Azure SQL Database: database not currently available. */
  azureUnavailable: 40613,
  /** Azure SQL Database: service busy. */
  azureBusy: 40501,
  /** Azure SQL Database: error processing the request, retry. */
  azureRetry: 40197,
} as const;

/** Worth retrying: a lost race, a lock or session in the way, an Azure back-end moving. */
const TRANSIENT_NUMBERS = new Set<number>([
  MSSQL_ERROR.deadlockVictim,
  MSSQL_ERROR.lockRequestTimeout,
  MSSQL_ERROR.databaseInUse,
  MSSQL_ERROR.exclusiveLock,
  MSSQL_ERROR.singleUserTaken,
  MSSQL_ERROR.azureCopyLimit,
  MSSQL_ERROR.azureUnavailable,
  MSSQL_ERROR.azureBusy,
  MSSQL_ERROR.azureRetry,
  -2, // a client timeout, as ADO.NET reports it
]);

/** The mssql package's codes for a connection that failed, closed or timed out, and node's socket codes. */
const CONNECTION_CODES = new Set<string>([...SOCKET_ERROR_CODES, ...TEDIOUS_CONNECTION_CODES]);

const PERMISSION_NUMBERS = new Set<number>([
  MSSQL_ERROR.permissionDenied,
  MSSQL_ERROR.permissionDeniedInDatabase,
  MSSQL_ERROR.noDatabaseAccess,
  MSSQL_ERROR.noPermission,
]);

interface MssqlErrorShape {
  number?: unknown;
  code?: unknown;
  info?: { number?: unknown };
  originalError?: unknown;
  precedingErrors?: unknown;
  cause?: unknown;
}

/** `err` and what it wraps (mssql's originalError, an Error's cause), outermost first. */
function chain(err: unknown): (MssqlErrorShape & { message?: unknown })[] {
  const links: (MssqlErrorShape & { message?: unknown })[] = [];
  let current: unknown = err;
  for (let depth = 0; current !== null && typeof current === 'object' && depth < 4; depth++) {
    const link = current as MssqlErrorShape;
    links.push(link);
    current = link.originalError ?? link.cause;
  }
  return links;
}

function numberOf(link: MssqlErrorShape): number | undefined {
  if (typeof link.number === 'number') return link.number;
  if (typeof link.info?.number === 'number') return link.info.number;
  return undefined;
}

/** The SQL Server error number of `err` (RequestError.number, or its originalError.info.number). */
export function errorNumber(err: unknown): number | undefined {
  for (const link of chain(err)) {
    const n = numberOf(link);
    if (n !== undefined) return n;
  }
  return undefined;
}

/**
 * Every error number the statement raised: SQL Server sends the reason first and a summary last
 * (3201 then 3013 for a backup), and mssql keeps the earlier ones in precedingErrors.
 */
export function errorNumbers(err: unknown): number[] {
  const numbers: number[] = [];
  for (const link of chain(err)) {
    const n = numberOf(link);
    if (n !== undefined) numbers.push(n);
    if (Array.isArray(link.precedingErrors)) for (const e of link.precedingErrors) numbers.push(...errorNumbers(e));
  }
  return [...new Set(numbers)];
}

export function hasErrorNumber(err: unknown, number: number): boolean {
  return errorNumbers(err).includes(number);
}

/** The mssql package's (or node's) error code: ESOCKET, ETIMEOUT, ELOGIN, EREQUEST… */
export function errorCode(err: unknown): string | undefined {
  for (const link of chain(err)) if (typeof link.code === 'string') return link.code;
  return undefined;
}

export function isConnectionFailure(err: unknown): boolean {
  return chain(err).some((link) => typeof link.code === 'string' && CONNECTION_CODES.has(link.code));
}

/** Operating system error 32: the backup file is open elsewhere (two creates of one template at once). */
export function isBackupFileInUse(err: unknown): boolean {
  return hasErrorNumber(err, MSSQL_ERROR.backupDevice) && /operating system error 32\b/i.test(allMessages(err));
}

function allMessages(err: unknown): string {
  const texts: string[] = [];
  for (const link of chain(err)) {
    if (typeof link.message === 'string') texts.push(link.message);
    const preceding = link.precedingErrors;
    if (Array.isArray(preceding)) for (const e of preceding) texts.push(allMessages(e));
  }
  return texts.join('\n');
}

/** Whether retrying may help: a connection lost, a session or lock in the way, Azure busy. */
export function isTransientMssqlError(err: unknown): boolean {
  if (isConnectionFailure(err) || isBackupFileInUse(err)) return true;
  return errorNumbers(err).some((n) => TRANSIENT_NUMBERS.has(n));
}

export function isPermissionDenied(err: unknown): boolean {
  return errorNumbers(err).some((n) => PERMISSION_NUMBERS.has(n));
}

/** A backup device or path the server could not use (3201, and the 3013 that follows it). */
export function isBackupPathError(err: unknown): boolean {
  return hasErrorNumber(err, MSSQL_ERROR.backupDevice) && !isBackupFileInUse(err);
}
