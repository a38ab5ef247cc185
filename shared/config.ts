import 'reflect-metadata';
import { plainToInstance, Transform, Type } from 'class-transformer';
import {
  IsBoolean,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
  validateSync,
} from 'class-validator';
import { ConfigurationError } from './errors';
import { ENGINES, EngineName } from './database-names';
import { engineModule } from '../worker/engines/registry';
import { CONTEXT_KEY, defaultNamePattern, MAX_CONTEXTS, namePatternProblems } from './instances/contexts';
import { defaultTemplate, parseTemplates, type Templates } from './templates';
import { parseTenantIds } from './tenants';
import { ADMIN_URL_SCHEMES } from './database/dialects/schemes';
import { REGISTRATION_SECRET_SETTINGS } from '../worker/edfi-admin/settings';
import { keyPrefix, parseRedisUrl, RedisTarget, redisUrlProblems } from './redis';

/**
 * Every setting the processes read, validated once at start-up. Defaults serve the local
 * quickstart (admin and ODS databases on the local PostgreSQL, Redis on localhost).
 * The API never reads ODS_SERVER_URL: only the worker's config carries it.
 */
const toBool = ({ value }: { value: unknown }) =>
  typeof value === 'string'
    ? ['1', 'true', 'yes', 'on'].includes(value.toLowerCase())
      ? true
      : ['0', 'false', 'no', 'off', ''].includes(value.toLowerCase())
        ? false
        : value
    : value;

/** postgres://, postgresql://, mssql:// or sqlserver:// (shared/database/dialects/schemes.ts). */
const ADMIN_DATABASE_URL = new RegExp(`^(${Object.keys(ADMIN_URL_SCHEMES).join('|')})://.+`, 'i');

class Environment {
  @IsIn(['development', 'production', 'test']) NODE_ENV = 'development';
  @IsIn(['error', 'warn', 'info', 'debug']) LOG_LEVEL = 'info';

  @Type(() => Number) @IsInt() @Min(0) @Max(65535) PORT = 3000;
  @IsString() HOST = '127.0.0.1';
  @IsString() @MaxLength(20) BODY_LIMIT = '16kb';
  /** The unauthenticated Prometheus listener (docs/observability.md); unset: none. 0 takes any free port. */
  @IsOptional() @Type(() => Number) @IsInt() @Min(0) @Max(65535) METRICS_PORT?: number;
  /** Loopback unless asked: the listener has no authentication (in Kubernetes, 0.0.0.0 behind a NetworkPolicy). */
  @IsString() @MinLength(1) METRICS_HOST = '127.0.0.1';

  @Matches(ADMIN_DATABASE_URL, {
    message: `ADMIN_DATABASE_URL must be a ${Object.keys(ADMIN_URL_SCHEMES).join('://, ')}:// URL`,
  })
  ADMIN_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/ods_instance_manager';
  @Type(() => Number) @IsInt() @Min(100) ADMIN_DATABASE_CONNECT_TIMEOUT_MS = 3000;
  @Type(() => Number) @IsInt() @Min(100) ADMIN_DATABASE_QUERY_TIMEOUT_MS = 15_000;
  // 2 at least: start-up holds the migration lock on one connection while migrating on another.
  @Type(() => Number) @IsInt() @Min(2) @Max(100) ADMIN_DATABASE_POOL_SIZE = 10;
  /**
   * How long a request waits for one of the pool's connections when all are in use (a burst), apart
   * from ADMIN_DATABASE_CONNECT_TIMEOUT_MS, which bounds opening one (an unreachable server).
   */
  @Type(() => Number) @IsInt() @Min(100) ADMIN_DATABASE_POOL_WAIT_MS = 15_000;

  /** One server, a Sentinel set or a cluster (shared/redis.ts, docs/redis.md); checked in parse(). */
  @IsString() REDIS_URL = 'redis://127.0.0.1:6379';
  /** The Sentinels' own password (REDIS_URL's is the Redis servers'). */
  @IsOptional() @IsString() REDIS_SENTINEL_PASSWORD?: string;
  @Matches(/^[A-Za-z0-9_-]{1,40}$/) QUEUE_PREFIX = 'odsim';
  @Type(() => Number) @IsInt() @Min(50) ENQUEUE_TIMEOUT_MS = 2000;
  @Type(() => Number) @IsInt() @Min(1) @Max(100_000) MAX_UNFINISHED_JOBS_PER_CLIENT = 50;
  /** Instances one `POST /admin/instances/bulk` may create. */
  @Type(() => Number) @IsInt() @Min(1) @Max(1000) BULK_CREATE_MAX = 100;
  @Type(() => Number) @IsInt() @Min(100) EVENTS_HEARTBEAT_MS = 15_000;
  @Type(() => Number) @IsInt() @Min(100) EVENTS_POLL_MS = 5_000;
  @Type(() => Number) @IsInt() @Min(1) @Max(24 * 365) EVENTS_RETENTION_HOURS = 24;

  @IsIn(ENGINES) ODS_ENGINE: EngineName = 'postgres';
  @IsString() @MinLength(1) @MaxLength(128) ODS_TEMPLATE_DATABASE = 'EdFi_Ods_Minimal_Template';
  /** JSON array of {name, database, strategy?, description?}; unset: minimal and populated (shared/templates.ts). */
  @IsOptional() @IsString() ODS_TEMPLATES?: string;
  @IsOptional() @IsString() ODS_DEFAULT_TEMPLATE?: string;
  @IsString() RESERVED_DATABASE_NAMES = 'EdFi_Admin,EdFi_Security';
  /** Tenant ids of a multi-tenant ODS/API (shared/tenants.ts); checked in parse(). */
  @IsOptional() @IsString() TENANTS?: string;

  // Worker only.
  @IsOptional()
  /** Checked by the engine's own rules (worker/engines/<engine>/settings.ts). */
  @IsString()
  ODS_SERVER_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
  @Transform(toBool) @IsBoolean() ODS_TEMPLATE_STANDIN = false;
  @Type(() => Number) @IsInt() @Min(100) ODS_LOCK_TIMEOUT_MS = 5_000;
  @Type(() => Number) @IsInt() @Min(1) @Max(64) WORKER_CONCURRENCY = 2;
  @Type(() => Number) @IsInt() @Min(1) @Max(64) GLOBAL_CONCURRENCY = 2;
  // A dead worker's job comes back within about lock + interval (5–12 s after the kill: the lock
  // lapses 5–10 s after its last renewal, the check runs every 2 s; docs/benchmarks.md). A live
  // worker renews its lock every half lock duration, so only the lock's length decides how long
  // a live worker may go unheard before BullMQ judges it stalled; the check's interval only says
  // how soon a lapsed lock is noticed. The per-instance advisory lock guards a misjudged stall.
  @Type(() => Number) @IsInt() @Min(1000) JOB_LOCK_DURATION_MS = 10_000;
  @Type(() => Number) @IsInt() @Min(500) STALLED_INTERVAL_MS = 2_000;
  @Type(() => Number) @IsInt() @Min(200) RECONCILE_INTERVAL_MS = 5_000;
  /** How often one worker takes an inventory of the ODS server (docs/inventory.md); 0: only on demand. */
  @Type(() => Number) @IsInt() @Min(0) INVENTORY_INTERVAL_MS = 60_000;
  @Type(() => Number) @IsInt() @Min(1) @Max(50) TRANSIENT_RETRY_ATTEMPTS = 8;
  @Type(() => Number) @IsInt() @Min(10) TRANSIENT_RETRY_BASE_MS = 1_000;
  @Type(() => Number) @IsInt() @Min(10) TRANSIENT_RETRY_MAX_MS = 30_000;

  // API only.
  @IsOptional()
  @IsString()
  @MinLength(32, { message: 'TOKEN_SIGNING_KEY must be at least 32 characters' })
  TOKEN_SIGNING_KEY?: string;
  @IsString() @MinLength(1) TOKEN_ISSUER = 'ods-instance-manager';
  @IsString() @MinLength(1) TOKEN_AUDIENCE = 'ods-instance-manager';
  @Type(() => Number) @IsInt() @Min(60) @Max(86_400) TOKEN_TTL_SECONDS = 1800;
  @Type(() => Number) @IsInt() @Min(1) TOKEN_RATE_LIMIT_PER_MINUTE = 30;
  @Type(() => Number) @IsInt() @Min(1) TOKEN_RATE_LIMIT_PER_CLIENT_PER_MINUTE = 10;
  @Type(() => Number) @IsInt() @Min(0) @Max(60_000) TOKEN_CLIENT_CHECK_CACHE_MS = 5000;
  @Type(() => Number) @IsInt() @Min(1) @Max(64) TOKEN_HASH_CONCURRENCY = 1;
  @Type(() => Number) @IsInt() @Min(0) @Max(10_000) TOKEN_HASH_QUEUE = 16;
  @Transform(toBool) @IsBoolean() BOOTSTRAP_CLIENT = true;
  /** Off: the deployment refuses every instance delete (docs/protection.md). */
  @Transform(toBool) @IsBoolean() INSTANCE_DELETES_ENABLED = true;
  /** The context keys every instance carries (the ODS/API's route), e.g. `districtIdFromRoute,schoolYearFromRoute`. */
  @IsOptional() @IsString() ODS_CONTEXT_KEYS?: string;
  /** How a databaseName left out of a create is derived, e.g. `EdFi_Ods_{schoolYearFromRoute}`. */
  @IsOptional() @IsString() @MaxLength(200) ODS_DATABASE_NAME_PATTERN?: string;
  @IsString() @MinLength(1) DATA_DIR = '.data';
}

export interface CommonConfig {
  env: 'development' | 'production' | 'test';
  logLevel: string;
  adminDatabase: {
    url: string;
    connectTimeoutMs: number;
    poolSize: number;
    queryTimeoutMs?: number;
    /** Waiting for a free pooled connection (PostgreSQL admin databases); connectTimeoutMs when absent. */
    poolWaitMs?: number;
  };
  /** `prefix`: the key prefix, QUEUE_PREFIX or, on a cluster, the hash tag {QUEUE_PREFIX} (shared/redis.ts). */
  redis: { url: string; prefix: string; target: RedisTarget };
  ods: {
    engine: EngineName;
    /** The default template's database (ODS_TEMPLATE_DATABASE unless ODS_TEMPLATES says otherwise). */
    templateDatabase: string;
    /** Every template a create may name; their databases are reserved. */
    templates: Templates;
    reservedNames: string[];
    /**
     * The engine's own non-secret settings, parsed by its module (ODS_PG_CREATE_STRATEGY, ODS_PG_FILE_COPY_ABOVE_MB, ODS_MSSQL_…):
     * the worker runs with them, the API plans with them (`?dryRun=true`).
     */
    engineSettings: unknown;
  };
  /** Tenant ids (TENANTS); empty: the deployment has no tenants and instances carry tenant ''. */
  tenants: string[];
  /** METRICS_PORT / METRICS_HOST: the unauthenticated metrics listener; port null: none. */
  metrics: { port: number | null; host: string };
}

export interface ApiConfig extends CommonConfig {
  /** Why the engine's settings could not be read in the API's environment (dry runs then answer 503). */
  engineSettingsProblems: string[];
  http: { port: number; host: string; bodyLimit: string };
  enqueueTimeoutMs: number;
  /** Queued and running jobs one client may have; more writes get 429. */
  maxUnfinishedJobsPerClient: number;
  /** Instances one bulk create may carry (BULK_CREATE_MAX). */
  bulkCreateMax: number;
  /** The live event stream: heartbeat, how often the log is read without a NOTIFY, how long it is kept. */
  events: { heartbeatMs: number; pollMs: number; retentionHours: number };
  tokens: {
    /** Undefined outside production: a key is then generated once into dataDir. */
    signingKey?: string;
    issuer: string;
    audience: string;
    ttlSeconds: number;
    /** Token requests per source address per minute, across all API processes (Redis). */
    rateLimitPerMinute: number;
    /** Failed credential checks per client id per minute, from any address, across all API processes. */
    rateLimitPerClientPerMinute: number;
    /** How long a token's client is taken to be enabled before the admin database is asked again. */
    clientCheckCacheMs: number;
    /** scrypt checks at once, and how many more may wait (api/auth/hash-gate.ts). */
    hashConcurrency: number;
    hashQueue: number;
  };
  bootstrapClient: boolean;
  /** INSTANCE_DELETES_ENABLED: false refuses every delete (409), whatever the caller's scope. */
  instanceDeletesEnabled: boolean;
  dataDir: string;
  /**
   * The deployment's mode: the context keys every create must carry (empty: any contexts, or
   * none), and the pattern a left-out databaseName is derived from (null: databaseName required).
   */
  contexts: { keys: string[]; databaseNamePattern: string | null };
}

export interface WorkerConfig extends CommonConfig {
  ods: CommonConfig['ods'] & {
    serverUrl: string;
    createStandInTemplate: boolean;
    /** Longest wait of one DDL statement for a lock held by someone else; then a transient error (55P03). */
    lockTimeoutMs: number;
  };
  concurrency: { perWorker: number; global: number };
  locks: { lockDurationMs: number; stalledIntervalMs: number };
  reconcileIntervalMs: number;
  /** INVENTORY_INTERVAL_MS: 0 takes inventories only on demand (POST /admin/inventory). */
  inventoryIntervalMs: number;
  transientRetry: { attempts: number; baseDelayMs: number; maxDelayMs: number };
}

function parse(
  env: NodeJS.ProcessEnv,
  keys: (keyof Environment)[],
  more: (parsed: Environment) => string[] = () => [],
): Environment {
  const known = new Set<string>(keys);
  // Empty strings mean "not set", so that `FOO= npm start` falls back to the default.
  const source = Object.fromEntries(
    Object.entries(env).filter(([k, v]) => known.has(k) && v !== undefined && v !== ''),
  );
  const parsed = plainToInstance(Environment, source, { exposeDefaultValues: true });
  const problems = validateSync(parsed).flatMap((e) => {
    if (!known.has(e.property)) return [];
    const shown = /URL|KEY/.test(e.property) ? '(hidden)' : JSON.stringify(env[e.property] ?? e.value);
    return Object.values(e.constraints ?? {}).map((m) => `${e.property}=${shown}: ${m}`);
  });
  if (known.has('STALLED_INTERVAL_MS') && parsed.STALLED_INTERVAL_MS >= parsed.JOB_LOCK_DURATION_MS) {
    // A check that runs less often than the lock lasts only delays the return of a dead worker's job.
    problems.push(
      `STALLED_INTERVAL_MS=${parsed.STALLED_INTERVAL_MS} must be less than JOB_LOCK_DURATION_MS=${parsed.JOB_LOCK_DURATION_MS}`,
    );
  }
  if (parsed.NODE_ENV === 'production' && known.has('TOKEN_SIGNING_KEY') && !parsed.TOKEN_SIGNING_KEY) {
    problems.push('TOKEN_SIGNING_KEY is required when NODE_ENV=production');
  }
  // Token hashing must leave libuv's pool a free thread (see api/auth/hash-gate.ts).
  const poolSize = Number(env.UV_THREADPOOL_SIZE) || 4;
  if (known.has('TOKEN_HASH_CONCURRENCY') && parsed.TOKEN_HASH_CONCURRENCY >= poolSize) {
    problems.push(
      `TOKEN_HASH_CONCURRENCY=${parsed.TOKEN_HASH_CONCURRENCY} must be below libuv's thread pool size (UV_THREADPOOL_SIZE, ${poolSize})`,
    );
  }
  if (known.has('TENANTS')) {
    try {
      parseTenantIds(parsed.TENANTS);
    } catch (err) {
      problems.push((err as Error).message);
    }
  }
  // The URL may hold a password: the problems name hosts and names, never it.
  problems.push(
    ...redisUrlProblems(parsed.REDIS_URL, parsed.REDIS_SENTINEL_PASSWORD).map((p) =>
      p.replace(/^REDIS_URL:? /, 'REDIS_URL=(hidden): '),
    ),
  );
  if (known.has('ODS_CONTEXT_KEYS')) problems.push(...contextModeProblems(parsed));
  if (known.has('ODS_TEMPLATES') && ENGINES.includes(parsed.ODS_ENGINE)) problems.push(...templatesOf(parsed).problems);
  if (ENGINES.includes(parsed.ODS_ENGINE)) problems.push(...more(parsed));
  if (problems.length) throw new ConfigurationError(problems);
  return parsed;
}

function contextKeysOf(e: Environment): string[] {
  return (e.ODS_CONTEXT_KEYS ?? '')
    .split(',')
    .map((k) => k.trim())
    .filter(Boolean);
}

/** The keys must be valid ODS/API context keys; the pattern must only ever produce acceptable names. */
function contextModeProblems(e: Environment): string[] {
  const keys = contextKeysOf(e);
  const problems: string[] = [];
  const bad = keys.filter((k) => !CONTEXT_KEY.test(k));
  if (bad.length)
    problems.push(`ODS_CONTEXT_KEYS: ${bad.join(', ')} not valid (a letter, then letters and digits, at most 50)`);
  if (new Set(keys.map((k) => k.toLowerCase())).size !== keys.length)
    problems.push('ODS_CONTEXT_KEYS lists a key twice (keys are compared case-insensitively)');
  if (keys.length > MAX_CONTEXTS) problems.push(`ODS_CONTEXT_KEYS lists more than ${MAX_CONTEXTS} keys`);
  if (problems.length) return problems;
  const pattern = e.ODS_DATABASE_NAME_PATTERN ?? (keys.length ? defaultNamePattern(keys) : undefined);
  return pattern === undefined ? [] : namePatternProblems(pattern, keys, e.ODS_ENGINE);
}

const COMMON_KEYS: (keyof Environment)[] = [
  'NODE_ENV',
  'LOG_LEVEL',
  'ADMIN_DATABASE_URL',
  'ADMIN_DATABASE_CONNECT_TIMEOUT_MS',
  'ADMIN_DATABASE_QUERY_TIMEOUT_MS',
  'ADMIN_DATABASE_POOL_SIZE',
  'ADMIN_DATABASE_POOL_WAIT_MS',
  'REDIS_URL',
  'REDIS_SENTINEL_PASSWORD',
  'QUEUE_PREFIX',
  'ODS_ENGINE',
  'ODS_TEMPLATE_DATABASE',
  'ODS_TEMPLATES',
  'ODS_DEFAULT_TEMPLATE',
  'RESERVED_DATABASE_NAMES',
  'TENANTS',
  'METRICS_PORT',
  'METRICS_HOST',
];

/**
 * The engine's settings, read by its module from the environment when the rest is valid: `check`
 * returns their problems (joined to the config errors) and keeps the settings for `common`.
 */
function engineSettingsReader(env: NodeJS.ProcessEnv) {
  const read = { settings: undefined as unknown, problems: [] as string[] };
  return Object.assign(read, {
    check(parsed: Environment): string[] {
      const { settings, problems } = engineModule(parsed.ODS_ENGINE).parseSettings(env);
      read.settings = settings;
      read.problems = problems;
      return problems;
    },
  });
}

function templatesOf(e: Environment): ReturnType<typeof parseTemplates> {
  const choices = engineModule(e.ODS_ENGINE).templateStrategies?.choices ?? [];
  return parseTemplates(e.ODS_TEMPLATES, e.ODS_DEFAULT_TEMPLATE, e.ODS_TEMPLATE_DATABASE, choices);
}

/** The engine's settings with the templates' own strategies joined in (null settings stay null). */
function withTemplateStrategies(e: Environment, settings: unknown, templates: Templates): unknown {
  const hook = engineModule(e.ODS_ENGINE).templateStrategies;
  const chosen = templates.list.filter((t) => t.strategy !== null);
  if (settings === null || settings === undefined || !hook || !chosen.length) return settings;
  return hook.apply(settings, Object.fromEntries(chosen.map((t) => [t.database.toLowerCase(), t.strategy as string])));
}

function redisSettings(e: Environment): CommonConfig['redis'] {
  // Checked in parse(), so this cannot throw here.
  const target = parseRedisUrl(e.REDIS_URL, e.REDIS_SENTINEL_PASSWORD);
  return { url: e.REDIS_URL, prefix: keyPrefix(e.QUEUE_PREFIX, target), target };
}

function common(e: Environment, engineSettings: unknown): CommonConfig {
  // Checked in parse(), so the templates are valid here.
  const { templates } = templatesOf(e);
  return {
    env: e.NODE_ENV as CommonConfig['env'],
    logLevel: e.LOG_LEVEL,
    adminDatabase: {
      url: e.ADMIN_DATABASE_URL,
      connectTimeoutMs: e.ADMIN_DATABASE_CONNECT_TIMEOUT_MS,
      queryTimeoutMs: e.ADMIN_DATABASE_QUERY_TIMEOUT_MS,
      poolSize: e.ADMIN_DATABASE_POOL_SIZE,
      poolWaitMs: e.ADMIN_DATABASE_POOL_WAIT_MS,
    },
    redis: redisSettings(e),
    ods: {
      engine: e.ODS_ENGINE,
      templateDatabase: defaultTemplate(templates).database,
      templates,
      reservedNames: e.RESERVED_DATABASE_NAMES.split(',')
        .map((s) => s.trim())
        .filter(Boolean),
      engineSettings: withTemplateStrategies(e, engineSettings, templates),
    },
    // Checked in parse(), so this cannot throw here.
    tenants: parseTenantIds(e.TENANTS),
    metrics: { port: e.METRICS_PORT ?? null, host: e.METRICS_HOST },
  };
}

/**
 * The worker's secrets set (non-empty) in `env`, by name: ODS_SERVER_URL, and the EdFi_Admin login
 * and encryption key (EDFI_ADMIN_DATABASE_URL, EDFI_ADMIN_ENCRYPTION_KEY, each maybe `_<TENANT>`).
 */
export function workerSecretsIn(env: NodeJS.ProcessEnv): string[] {
  const secret = (name: string) =>
    name === 'ODS_SERVER_URL' || REGISTRATION_SECRET_SETTINGS.some((s) => name === s || name.startsWith(`${s}_`));
  return Object.keys(env)
    .filter((name) => secret(name) && (env[name] ?? '') !== '')
    .sort();
}

/** Why an API may not start holding the worker's secrets; names only, never values. */
export function workerSecretProblems(env: NodeJS.ProcessEnv): string[] {
  return workerSecretsIn(env).map(
    (name) =>
      `${name} is set: it is a worker-only secret and the API must not be given it (remove it from the API's environment)`,
  );
}

export function loadApiConfig(env: NodeJS.ProcessEnv = process.env): ApiConfig {
  // The engine's settings, never ODS_SERVER_URL: the API plans, it does not connect.
  const engine = engineSettingsReader(env);
  const e = parse(
    env,
    [
      ...COMMON_KEYS,
      'PORT',
      'HOST',
      'BODY_LIMIT',
      'ENQUEUE_TIMEOUT_MS',
      'MAX_UNFINISHED_JOBS_PER_CLIENT',
      'BULK_CREATE_MAX',
      'EVENTS_HEARTBEAT_MS',
      'EVENTS_POLL_MS',
      'EVENTS_RETENTION_HOURS',
      'TOKEN_SIGNING_KEY',
      'TOKEN_ISSUER',
      'TOKEN_AUDIENCE',
      'TOKEN_TTL_SECONDS',
      'TOKEN_RATE_LIMIT_PER_MINUTE',
      'TOKEN_RATE_LIMIT_PER_CLIENT_PER_MINUTE',
      'TOKEN_CLIENT_CHECK_CACHE_MS',
      'TOKEN_HASH_CONCURRENCY',
      'TOKEN_HASH_QUEUE',
      'BOOTSTRAP_CLIENT',
      'INSTANCE_DELETES_ENABLED',
      'DATA_DIR',
      'ODS_CONTEXT_KEYS',
      'ODS_DATABASE_NAME_PATTERN',
    ],
    // The API only plans with them: settings it lacks (the command engine's executable, say) make
    // dry runs unavailable, not the API. In production it refuses the worker's secrets; `npm start`
    // and the tests run both processes from one environment, so elsewhere they are only ignored.
    (parsed) => (engine.check(parsed), parsed.NODE_ENV === 'production' ? workerSecretProblems(env) : []),
  );
  const contextKeys = contextKeysOf(e);
  return {
    ...common(e, engine.problems.length ? null : engine.settings),
    engineSettingsProblems: engine.problems,
    http: { port: e.PORT, host: e.HOST, bodyLimit: e.BODY_LIMIT },
    enqueueTimeoutMs: e.ENQUEUE_TIMEOUT_MS,
    maxUnfinishedJobsPerClient: e.MAX_UNFINISHED_JOBS_PER_CLIENT,
    bulkCreateMax: e.BULK_CREATE_MAX,
    events: { heartbeatMs: e.EVENTS_HEARTBEAT_MS, pollMs: e.EVENTS_POLL_MS, retentionHours: e.EVENTS_RETENTION_HOURS },
    tokens: {
      signingKey: e.TOKEN_SIGNING_KEY,
      issuer: e.TOKEN_ISSUER,
      audience: e.TOKEN_AUDIENCE,
      ttlSeconds: e.TOKEN_TTL_SECONDS,
      rateLimitPerMinute: e.TOKEN_RATE_LIMIT_PER_MINUTE,
      rateLimitPerClientPerMinute: e.TOKEN_RATE_LIMIT_PER_CLIENT_PER_MINUTE,
      clientCheckCacheMs: e.TOKEN_CLIENT_CHECK_CACHE_MS,
      hashConcurrency: e.TOKEN_HASH_CONCURRENCY,
      hashQueue: e.TOKEN_HASH_QUEUE,
    },
    bootstrapClient: e.BOOTSTRAP_CLIENT,
    instanceDeletesEnabled: e.INSTANCE_DELETES_ENABLED,
    dataDir: e.DATA_DIR,
    contexts: {
      keys: contextKeys,
      databaseNamePattern: e.ODS_DATABASE_NAME_PATTERN ?? (contextKeys.length ? defaultNamePattern(contextKeys) : null),
    },
  };
}

export function loadWorkerConfig(env: NodeJS.ProcessEnv = process.env): WorkerConfig {
  const engine = engineSettingsReader(env);
  const engineProblems = (parsed: Environment): string[] => [
    // The URL may hold a password: the problem names the variable, never its value.
    ...engineModule(parsed.ODS_ENGINE)
      .serverUrlProblems(parsed.ODS_SERVER_URL)
      .map((p) => `ODS_SERVER_URL=(hidden): ${p}`),
    ...engine.check(parsed),
  ];
  const e = parse(
    env,
    [
      ...COMMON_KEYS,
      'ODS_SERVER_URL',
      'ODS_TEMPLATE_STANDIN',
      'ODS_LOCK_TIMEOUT_MS',
      'WORKER_CONCURRENCY',
      'GLOBAL_CONCURRENCY',
      'JOB_LOCK_DURATION_MS',
      'STALLED_INTERVAL_MS',
      'RECONCILE_INTERVAL_MS',
      'INVENTORY_INTERVAL_MS',
      'TRANSIENT_RETRY_ATTEMPTS',
      'TRANSIENT_RETRY_BASE_MS',
      'TRANSIENT_RETRY_MAX_MS',
    ],
    engineProblems,
  );
  const c = common(e, engine.settings);
  return {
    ...c,
    ods: {
      ...c.ods,
      serverUrl: e.ODS_SERVER_URL,
      createStandInTemplate: e.ODS_TEMPLATE_STANDIN,
      lockTimeoutMs: e.ODS_LOCK_TIMEOUT_MS,
    },
    concurrency: { perWorker: e.WORKER_CONCURRENCY, global: e.GLOBAL_CONCURRENCY },
    locks: { lockDurationMs: e.JOB_LOCK_DURATION_MS, stalledIntervalMs: e.STALLED_INTERVAL_MS },
    reconcileIntervalMs: e.RECONCILE_INTERVAL_MS,
    inventoryIntervalMs: e.INVENTORY_INTERVAL_MS,
    transientRetry: {
      attempts: e.TRANSIENT_RETRY_ATTEMPTS,
      baseDelayMs: e.TRANSIENT_RETRY_BASE_MS,
      maxDelayMs: e.TRANSIENT_RETRY_MAX_MS,
    },
  };
}

export { databaseNameOf, redactUrl, sameServerUrl } from './urls';
