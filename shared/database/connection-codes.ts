/** Node's socket error codes for a server that cannot be reached, or that dropped the connection. */
export const SOCKET_ERROR_CODES = ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH', 'EPIPE'];

/**
 * The mssql package's (tedious's) codes for a connection that failed, closed, was never open,
 * or could not find a named instance, and for a request that timed out.
 */
export const TEDIOUS_CONNECTION_CODES = ['ESOCKET', 'ETIMEOUT', 'ECONNCLOSED', 'ENOTOPEN', 'ENOCONN', 'EINSTLOOKUP'];
