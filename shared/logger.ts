import winston from 'winston';

export type Logger = winston.Logger;

const SECRET_KEY =
  /secret|password|passwd|authorization|token|signing|cookie|encryption|connectionstring|connection_string/i;
// user:password@ in any URL-looking string; the password runs to the last @ as URL parsers read it.
const URL_CREDENTIALS = /([a-z][a-z0-9+.-]*:\/\/[^\s:/@]*:)\S*@/gi;

// password=…; in key=value connection strings (Npgsql, SQL Server: Password, Pwd), up to the next ';'.
const KEYVALUE_PASSWORD = /\b(password|pwd)(\s*=\s*)[^;]*/gi;

/** Text with any credentials in URLs and key=value connection strings masked (driver errors can quote them). */
export function redactSecrets(text: string): string {
  return text.replace(URL_CREDENTIALS, '$1***@').replace(KEYVALUE_PASSWORD, '$1$2***');
}

function scrub(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactSecrets(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth > 6) return '[truncated]';
  if (value instanceof Error) return { name: value.name, message: scrub(value.message, depth + 1) };
  if (Array.isArray(value)) return value.map((v) => scrub(v, depth + 1));
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>).map(([k, v]) => [
      k,
      SECRET_KEY.test(k) ? '[redacted]' : scrub(v, depth + 1),
    ]),
  );
}

/** Removes secrets from every log line, whatever the caller passed. */
const redact = winston.format((info) => {
  for (const key of Object.keys(info)) {
    info[key] = SECRET_KEY.test(key) ? '[redacted]' : scrub(info[key]);
  }
  return info;
});

/** One JSON line per event. `service` tells the API's lines from the worker's. */
export function createLogger(service: string, level = 'info', stream?: NodeJS.WritableStream): Logger {
  return winston.createLogger({
    level,
    defaultMeta: { service },
    format: winston.format.combine(
      winston.format.errors(),
      redact(),
      winston.format.timestamp(),
      winston.format.json(),
    ),
    transports: [stream ? new winston.transports.Stream({ stream }) : new winston.transports.Console()],
  });
}

/** A logger that writes nothing (tests that do not look at logs). */
export function silentLogger(): Logger {
  return winston.createLogger({ silent: true, transports: [new winston.transports.Console({ silent: true })] });
}
