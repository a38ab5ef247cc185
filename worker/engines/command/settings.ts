import { accessSync, constants, statSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import type { ParsedSettings } from '../module';
import { DEFAULT_VERIFY_ENGINE, VERIFY_ENGINE_NAMES, VERIFY_ENGINES, VerifyEngineName } from './verify-engines';

export interface CommandSettings {
  /** ODS_COMMAND_PATH: the executable, run directly (never through a shell). */
  path: string;
  /** ODS_COMMAND_ARGS: fixed leading arguments, a JSON array of strings. */
  args: string[];
  /** ODS_COMMAND_TIMEOUT_MS: then the command's process group is ended. */
  timeoutMs: number;
  /** ODS_COMMAND_KILL_GRACE_MS: between SIGTERM and SIGKILL at the timeout. */
  killGraceMs: number;
  /** ODS_COMMAND_RETRY_EXIT_CODES: exit codes that mean "try again later" (75, EX_TEMPFAIL). */
  retryExitCodes: number[];
  /** ODS_COMMAND_TIMEOUT_RETRY: a timeout is retried like a transient error (default: the job fails). */
  timeoutIsTransient: boolean;
  /** The command's whole environment: the allow-list, then ODS_COMMAND_ENV_<NAME> as <NAME>. */
  environment: Record<string, string>;
  /** Values masked wherever the command's output is shown (its secret-looking variables, the worker's own passwords). */
  secrets: string[];
  /** ODS_COMMAND_VERIFY_ENGINE: the engine whose server (ODS_SERVER_URL) is checked before and after, and its settings. */
  verify: { engine: VerifyEngineName; settings: unknown };
}

export const DEFAULT_TIMEOUT_MS = 30 * 60_000;
export const DEFAULT_KILL_GRACE_MS = 5_000;
export const DEFAULT_RETRY_EXIT_CODES = [75];

/** What the command inherits from the worker's environment; nothing else of it (never ADMIN_DATABASE_URL, ODS_SERVER_URL…). */
export const INHERITED_VARIABLES = ['PATH', 'HOME', 'USER', 'LANG', 'LC_ALL', 'LC_CTYPE', 'TZ', 'TMPDIR'] as const;
export const PASS_THROUGH_PREFIX = 'ODS_COMMAND_ENV_';

/** A variable whose value is masked in the command's output. */
const SECRET_NAME = /pass|pwd|secret|token|key|credential|connection_?string/i;
/** The worker's own settings that hold credentials: their passwords (URLs) or whole values are masked too. */
const WORKER_SECRET_NAME =
  /^(ADMIN_DATABASE_URL|ODS_SERVER_URL|REDIS_URL|REDIS_SENTINEL_PASSWORD|EDFI_ADMIN_.*|TOKEN_.*)$/;
const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Shorter values would mask ordinary words in the output. */
const MIN_SECRET_LENGTH = 4;

const BOOLEAN = new Map<string, boolean>([
  ...['', '0', 'false', 'no', 'off'].map((v) => [v, false] as const),
  ...['1', 'true', 'yes', 'on'].map((v) => [v, true] as const),
]);

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, problems: string[]): number {
  const raw = (env[name] ?? '').trim();
  if (!raw) return fallback;
  const value = Number(raw);
  if (Number.isInteger(value) && value >= min) return value;
  problems.push(`${name}=${JSON.stringify(env[name])}: must be a whole number of at least ${min}`);
  return fallback;
}

function executableProblems(path: string | undefined): string[] {
  if (!path) return ['ODS_COMMAND_PATH is required with ODS_ENGINE=command (the absolute path of the executable)'];
  const shown = `ODS_COMMAND_PATH=${JSON.stringify(path)}`;
  if (!isAbsolute(path)) return [`${shown}: must be an absolute path (the command is not looked up in PATH)`];
  try {
    if (!statSync(path).isFile()) return [`${shown}: is not a file`];
  } catch {
    return [`${shown}: does not exist`];
  }
  try {
    accessSync(path, constants.X_OK);
  } catch {
    return [`${shown}: is not executable by the worker's user`];
  }
  return [];
}

function fixedArgs(raw: string | undefined, problems: string[]): string[] {
  if (!raw?.trim()) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    parsed = undefined;
  }
  if (Array.isArray(parsed) && parsed.every((a): a is string => typeof a === 'string' && !a.includes('\0')))
    return parsed;
  problems.push(
    `ODS_COMMAND_ARGS: must be a JSON array of strings, e.g. ["-NoProfile", "-File", "/opt/edfi/provision.ps1"]`,
  );
  return [];
}

function retryCodes(raw: string | undefined, problems: string[]): number[] {
  if (raw === undefined) return DEFAULT_RETRY_EXIT_CODES;
  const parts = raw
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  const codes = parts.map(Number);
  if (codes.every((c) => Number.isInteger(c) && c >= 1 && c <= 255)) return codes;
  problems.push(
    `ODS_COMMAND_RETRY_EXIT_CODES=${JSON.stringify(raw)}: must be exit codes from 1 to 255, separated by commas (or empty for none)`,
  );
  return DEFAULT_RETRY_EXIT_CODES;
}

function passwordOf(url: string): string | null {
  try {
    // A URL of several hosts (redis-sentinel://:pw@h1,h2/name) is no WHATWG URL: its user part is read as is.
    const password = URL.canParse(url)
      ? new URL(url).password
      : (/^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^:@/?#]*:([^@/?#]*)@/.exec(url)?.[1] ?? '');
    return decodeURIComponent(password) || null;
  } catch {
    return null;
  }
}

/** The command's environment, and the values to mask in what it prints. */
export function commandEnvironment(env: NodeJS.ProcessEnv, problems: string[] = []) {
  const environment: Record<string, string> = {};
  const secrets = new Set<string>();
  for (const name of INHERITED_VARIABLES) {
    const value = env[name];
    if (value !== undefined) environment[name] = value;
  }
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined) continue;
    if (key.startsWith(PASS_THROUGH_PREFIX)) {
      const name = key.slice(PASS_THROUGH_PREFIX.length);
      if (!VARIABLE_NAME.test(name)) {
        problems.push(`${key}: "${name}" is not a variable name (letters, digits, underscores)`);
        continue;
      }
      environment[name] = value;
      if (SECRET_NAME.test(name)) secrets.add(value);
      const password = passwordOf(value);
      if (password) secrets.add(password);
    } else if (WORKER_SECRET_NAME.test(key)) {
      const password = passwordOf(value);
      if (password) secrets.add(password);
      else if (SECRET_NAME.test(key)) secrets.add(value);
    }
  }
  return {
    environment,
    secrets: [...secrets].filter((s) => s.length >= MIN_SECRET_LENGTH).sort((a, b) => b.length - a.length),
  };
}

export function parseCommandSettings(env: NodeJS.ProcessEnv): ParsedSettings<CommandSettings> {
  const problems: string[] = [];
  const path = env.ODS_COMMAND_PATH?.trim() ?? '';
  problems.push(...executableProblems(path || undefined));
  const args = fixedArgs(env.ODS_COMMAND_ARGS, problems);
  const timeoutMs = integer(env, 'ODS_COMMAND_TIMEOUT_MS', DEFAULT_TIMEOUT_MS, 100, problems);
  const killGraceMs = integer(env, 'ODS_COMMAND_KILL_GRACE_MS', DEFAULT_KILL_GRACE_MS, 0, problems);
  const retryExitCodes = retryCodes(env.ODS_COMMAND_RETRY_EXIT_CODES, problems);
  const timeoutRetry = BOOLEAN.get((env.ODS_COMMAND_TIMEOUT_RETRY ?? '').trim().toLowerCase());
  if (timeoutRetry === undefined)
    problems.push(`ODS_COMMAND_TIMEOUT_RETRY=${JSON.stringify(env.ODS_COMMAND_TIMEOUT_RETRY)}: must be true or false`);
  const { environment, secrets } = commandEnvironment(env, problems);

  const verifyRaw = (env.ODS_COMMAND_VERIFY_ENGINE ?? '').trim().toLowerCase() || DEFAULT_VERIFY_ENGINE;
  let engine = DEFAULT_VERIFY_ENGINE;
  if (VERIFY_ENGINE_NAMES.includes(verifyRaw as VerifyEngineName)) engine = verifyRaw as VerifyEngineName;
  else
    problems.push(
      `ODS_COMMAND_VERIFY_ENGINE=${JSON.stringify(env.ODS_COMMAND_VERIFY_ENGINE)}: must be one of ${VERIFY_ENGINE_NAMES.join(', ')} (the engine whose server ODS_SERVER_URL names)`,
    );
  const verifyModule = VERIFY_ENGINES[engine];
  const verifySettings = verifyModule.parseSettings(env);
  problems.push(...verifySettings.problems);
  // The URL may hold a password: the problem names the variable, never its value.
  if (env.ODS_SERVER_URL)
    problems.push(
      ...verifyModule
        .serverUrlProblems(env.ODS_SERVER_URL)
        .map((p) => `ODS_SERVER_URL=(hidden): ${p} (ODS_COMMAND_VERIFY_ENGINE=${engine})`),
    );
  return {
    settings: {
      path,
      args,
      timeoutMs,
      killGraceMs,
      retryExitCodes,
      timeoutIsTransient: timeoutRetry ?? false,
      environment,
      secrets,
      verify: { engine, settings: verifySettings.settings },
    },
    problems,
  };
}

/** ODS_SERVER_URL must suit some engine a script's work can be checked on; parseCommandSettings checks it against the chosen one. */
export function commandUrlProblems(url: string): string[] {
  const each = Object.values(VERIFY_ENGINES).map((engine) => engine.serverUrlProblems(url));
  return each.some((p) => p.length === 0) ? [] : [...new Set(each.flat())];
}
