import { SOCKET_ERROR_CODES } from './connection-codes';
/**
 * What a PostgreSQL (or node-postgres, or TypeORM) error means to this product: the one
 * place that knows SQLSTATEs, node's socket codes and the drivers' message texts.
 */

export const SQLSTATE = {
  uniqueViolation: '23505',
  duplicateDatabase: '42P04',
  undefinedDatabase: '3D000',
  objectInUse: '55006',
  lockNotAvailable: '55P03',
  serializationFailure: '40001',
  deadlockDetected: '40P01',
} as const;

/** The server cannot be reached, or cannot take a session now: shutting down, in recovery, full. */
const CONNECTION_CODES = new Set<string>([
  ...SOCKET_ERROR_CODES,
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '53300', // too_many_connections
]);
/**
 * node-postgres says these in words only (pool timeouts, a socket that closed, a read that timed
 * out, a client's own connect timeout: "timeout expired").
 */
const CONNECTION_MESSAGES =
  /timeout exceeded when trying to connect|Query read timeout|Connection terminated|connect ECONNREFUSED|Client has encountered a connection error|^timeout expired$/i;

/** What pg's pool says when no connection came free in time: the pool is saturated, not the server away. */
export const POOL_WAIT_TIMEOUT = /timeout exceeded when trying to connect/i;

/** Whether `err` (or an error it wraps) is a wait for a free pooled connection that ran out. */
export function isPoolWaitTimeout(err: unknown): boolean {
  return chain(err).some((e) => typeof e.message === 'string' && POOL_WAIT_TIMEOUT.test(e.message));
}

interface DriverError {
  code?: unknown;
  message?: unknown;
  constraint?: unknown;
  driverError?: unknown;
  cause?: unknown;
}

/** `err` and what it wraps (TypeORM's driverError, an Error's cause), outermost first. */
function chain(err: unknown): DriverError[] {
  const links: DriverError[] = [];
  let current: unknown = err;
  for (let depth = 0; current !== null && typeof current === 'object' && depth < 4; depth++) {
    const link = current as DriverError;
    links.push(link);
    current = link.driverError ?? link.cause;
  }
  return links;
}

/** The SQLSTATE (or node's error code) of `err`, looking through wrappers. */
export function errorCode(err: unknown): string | undefined {
  for (const link of chain(err)) if (typeof link.code === 'string') return link.code;
  return undefined;
}

/** True when the database server cannot be reached right now (as opposed to a bad statement). */
export function isConnectionFailure(err: unknown): boolean {
  return chain(err).some((e) => {
    const code = typeof e.code === 'string' ? e.code : '';
    const message = typeof e.message === 'string' ? e.message : '';
    if (CONNECTION_CODES.has(code) || code.startsWith('08')) return true;
    // 55000 is broad (object not in prerequisite state); at connect time it means the
    // database was set ALLOW_CONNECTIONS false, a maintenance window rather than a bug.
    if (code === '55000' && /not currently accepting connections/i.test(message)) return true;
    return CONNECTION_MESSAGES.test(message);
  });
}

/** A deadlock or serialization failure: the transaction lost a race and may simply run again. */
export function isSerializationFailure(err: unknown): boolean {
  const code = errorCode(err);
  return code === SQLSTATE.deadlockDetected || code === SQLSTATE.serializationFailure;
}

/** CREATE DATABASE or RENAME onto a name that exists (23505 on pg_database's index when two sessions race). */
export function isDuplicateDatabase(err: unknown): boolean {
  const code = errorCode(err);
  return code === SQLSTATE.duplicateDatabase || code === SQLSTATE.uniqueViolation;
}

/** The name of the unique constraint `err` violated, if it is a unique violation. */
export function violatedUniqueConstraint(err: unknown): string | undefined {
  for (const link of chain(err)) {
    if (link.code === SQLSTATE.uniqueViolation) return typeof link.constraint === 'string' ? link.constraint : '';
  }
  return undefined;
}
