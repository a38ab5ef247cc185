import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import type { DataSource } from 'typeorm';
import { createApp } from '../../api/app';
import { EventHub } from '../../api/events/hub';
import { contractProblems } from './contract';
import { ClientStore } from '../../api/auth/clients';
import { SCOPES } from '../../api/auth/scopes';
import type { GateProbe } from '../../api/auth/hash-gate';
import { TokenService } from '../../api/auth/tokens';
import { ApiConfig, loadApiConfig, loadWorkerConfig, WorkerConfig } from '../../shared/config';
import { createAdminDataSource, prepareAdminDatabase } from '../../shared/database/data-source';
import { JobEntity } from '../../shared/database/entities';
import { readDeploymentId } from '../../shared/deployment/identity';
import { stagingDatabaseName } from '../../shared/database-names';
import { createQueue, redisConnection } from '../../shared/jobs/queue';
import { createInventoryQueue } from '../../shared/inventory/queue';
import { Logger, silentLogger } from '../../shared/logger';
import type { RedisClient } from '../../shared/redis';
import { withTimeout } from '../../shared/retry';
import type { EngineDriver } from '../../worker/engines/engine';
import { createDriver } from '../../worker/engines/registry';
import { createWorker, RunningWorker } from '../../worker/worker';
import { loadRegistrationSettings } from '../../worker/edfi-admin/settings';
import { databasesLike, dropDatabases } from './ods-server';
import { EDFI_TEMPLATE, POSTGRES_URL, REDIS_URL, urlFor } from './settings';
import { waitFor } from './wait';

export interface HttpResult {
  status: number;
  headers: Headers;
  /** Parsed JSON when the response is JSON, else the text. */
  body: any;
}

export interface RequestOptions {
  /** Bearer token; `null` sends none. Defaults to the full-access token. */
  token?: string | null;
  body?: unknown;
  /** Sent as-is (with `contentType`), for malformed bodies. */
  rawBody?: string;
  contentType?: string;
  headers?: Record<string, string>;
}

export interface StackOptions {
  /** Extra environment for both processes (e.g. ODS_TEMPLATE_DATABASE). */
  env?: Record<string, string>;
  /** Start one in-process worker (default true). */
  worker?: boolean;
  logger?: Logger;
  /** Rewrites the admin database URL (e.g. through a TCP proxy that a test can cut). */
  adminDatabaseUrl?: (url: string) => string;
  /** Passed to createApp: told when each secret hash starts and ends. */
  hashGateProbe?: GateProbe;
}

export interface WorkerHandle extends RunningWorker {
  driver: EngineDriver;
}

/**
 * One isolated deployment for a test: its own admin database, queue prefix, signing key and
 * ODS database-name prefix, on the real PostgreSQL and Redis. `stop()` removes all of it.
 */
export class Stack {
  readonly id = randomBytes(4).toString('hex');
  readonly env: Record<string, string> & { ADMIN_DATABASE_URL: string };
  readonly apiConfig: ApiConfig;
  /** Read when first used, so a stack without workers may leave out worker-only settings. */
  get workerConfig(): WorkerConfig {
    return loadWorkerConfig(this.env);
  }
  readonly dataSource: DataSource;
  readonly log: Logger;
  tokens = { full: '', read: '' };
  /** Read from the admin database once it is prepared. */
  deploymentId = '';
  baseUrl = '';
  private server?: Server;
  private readonly moreServers: Server[] = [];
  private hashGateProbe?: GateProbe;
  private redis?: RedisClient;
  private queue?: ReturnType<typeof createQueue>;
  private readonly hubs: EventHub[] = [];
  private readonly workers: { handle: WorkerHandle; redis: RedisClient }[] = [];

  constructor(options: StackOptions = {}) {
    this.env = {
      NODE_ENV: 'test',
      ADMIN_DATABASE_URL: (options.adminDatabaseUrl ?? ((u: string) => u))(urlFor(`odsim_t_${this.id}`)),
      ADMIN_DATABASE_CONNECT_TIMEOUT_MS: '2000',
      REDIS_URL,
      QUEUE_PREFIX: `odsimt_${this.id}`,
      TOKEN_SIGNING_KEY: randomBytes(32).toString('hex'),
      // Limits out of the way of tests about other things; the tests of the limits set their own.
      TOKEN_RATE_LIMIT_PER_MINUTE: '100000',
      TOKEN_RATE_LIMIT_PER_CLIENT_PER_MINUTE: '100000',
      TOKEN_HASH_QUEUE: '10000',
      // Suites that flood the API with writes; the quota has its own test.
      MAX_UNFINISHED_JOBS_PER_CLIENT: '100000',
      ODS_SERVER_URL: POSTGRES_URL,
      ODS_TEMPLATE_DATABASE: EDFI_TEMPLATE,
      RECONCILE_INTERVAL_MS: '500',
      // Surveys look at every database of the shared server: only the tests of the inventory take them.
      INVENTORY_INTERVAL_MS: '0',
      EVENTS_POLL_MS: '1000',
      TRANSIENT_RETRY_ATTEMPTS: '8',
      TRANSIENT_RETRY_BASE_MS: '100',
      TRANSIENT_RETRY_MAX_MS: '1000',
      JOB_LOCK_DURATION_MS: '5000',
      STALLED_INTERVAL_MS: '2000',
      GLOBAL_CONCURRENCY: '4',
      WORKER_CONCURRENCY: '2',
      BOOTSTRAP_CLIENT: 'false',
      ENQUEUE_TIMEOUT_MS: '1000',
      ...options.env,
    };
    this.apiConfig = loadApiConfig(this.env);
    this.log = options.logger ?? silentLogger();
    this.dataSource = createAdminDataSource(this.apiConfig.adminDatabase);
  }

  /** An ODS database name private to this stack. */
  db(name: string): string {
    return `t_${this.id}_${name}`;
  }

  async start(options: StackOptions = {}): Promise<this> {
    await prepareAdminDatabase(this.dataSource, this.apiConfig.adminDatabase, this.log);
    this.redis = redisConnection(this.apiConfig.redis.target, { enableOfflineQueue: false });
    this.redis.on('error', () => undefined);
    this.deploymentId = await readDeploymentId(this.dataSource);
    this.queue = createQueue(this.redis, this.apiConfig.redis.prefix, this.deploymentId);
    this.queue.on('error', () => undefined);
    this.hashGateProbe = options.hashGateProbe;
    this.server = await this.listenApi();
    this.baseUrl = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    const clients = new ClientStore(this.dataSource);
    this.tokens = {
      full: await this.token(await clients.create('test-full', SCOPES.fullAccess)),
      read: await this.token(await clients.create('test-read', SCOPES.readOnly)),
    };
    if (options.worker !== false) await this.startWorker();
    return this;
  }

  /** A second API of this deployment (its own createApp, same admin database, Redis and config), as a replica would be. */
  async startAnotherApi(): Promise<string> {
    const server = await this.listenApi();
    this.moreServers.push(server);
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  /** Each API has its own event hub (one LISTEN connection), as each replica does. */
  private async listenApi(): Promise<Server> {
    const events = new EventHub(
      this.dataSource,
      {
        url: this.apiConfig.adminDatabase.url,
        connectTimeoutMs: this.apiConfig.adminDatabase.connectTimeoutMs,
        ...this.apiConfig.events,
      },
      this.log,
    );
    await events.start();
    this.hubs.push(events);
    const tokens = new TokenService(this.apiConfig.tokens.signingKey!, {
      ...this.apiConfig.tokens,
      deploymentId: this.deploymentId,
    });
    const app = createApp({
      config: this.apiConfig,
      dataSource: this.dataSource,
      queue: this.queue!,
      deploymentId: this.deploymentId,
      redis: this.redis!,
      tokens,
      logger: this.log,
      hashGateProbe: this.hashGateProbe,
      events,
    });
    return new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
  }

  async startWorker(env: Record<string, string> = {}, driver?: EngineDriver): Promise<WorkerHandle> {
    const config = loadWorkerConfig({ ...this.env, ...env });
    const registration = loadRegistrationSettings({ ...this.env, ...env });
    const redis = redisConnection(config.redis.target);
    redis.on('error', () => undefined);
    const engine = driver ?? createDriver(config, this.log);
    const running = await createWorker({
      config,
      dataSource: this.dataSource,
      driver: engine,
      redis,
      logger: this.log,
      registration,
    }).catch(async (err) => {
      if (!driver) await engine.close();
      redis.disconnect();
      throw err;
    });
    const handle: WorkerHandle = Object.assign(running, { driver: engine });
    this.workers.push({ handle, redis });
    return handle;
  }

  async stopWorkers(): Promise<void> {
    for (const { handle, redis } of this.workers.splice(0)) {
      await handle.stop();
      await handle.driver.close();
      redis.disconnect();
    }
  }

  async request(method: string, path: string, options: RequestOptions = {}): Promise<HttpResult> {
    const headers: Record<string, string> = { ...options.headers };
    const token = options.token === undefined ? this.tokens.full : options.token;
    if (token) headers.authorization = `Bearer ${token}`;
    let body: string | undefined;
    if (options.rawBody !== undefined) {
      body = options.rawBody;
      headers['content-type'] = options.contentType ?? 'application/json';
    } else if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] = 'application/json';
    }
    const response = await fetch(this.baseUrl + path, { method, headers, body });
    const text = await response.text();
    const isJson = /json/.test(response.headers.get('content-type') ?? '');
    const result = {
      status: response.status,
      headers: response.headers,
      body: isJson && text ? JSON.parse(text) : text,
    };
    // Every response a test receives through the stack is also a check of the OpenAPI document.
    const problems = contractProblems(method, path, result.status, result.headers, result.body);
    if (problems.length) throw new Error(`response breaks the API contract: ${problems.join('; ')}`);
    return result;
  }

  /** POST /admin/instances and wait until the worker has finished with it. */
  async createInstance(suffix: string, expected = 'Created'): Promise<any> {
    const created = await this.request('POST', '/admin/instances', {
      body: { instanceName: `Test ${this.id} ${suffix}`, databaseName: this.db(suffix) },
    });
    if (created.status !== 201) throw new Error(`create failed: ${created.status} ${JSON.stringify(created.body)}`);
    return this.waitForStatus(created.body.id, expected);
  }

  /** `tenant`: the instance's tenant, sent as the `tenant` header (a deployment with TENANTS needs it). */
  async waitForStatus(instanceId: string, status: string, timeoutMs = 60_000, tenant?: string): Promise<any> {
    return waitFor(
      async () => {
        const r = await this.request('GET', `/admin/instances/${instanceId}`, tenant ? { headers: { tenant } } : {});
        return r.body.status === status ? r.body : undefined;
      },
      `instance ${instanceId} to reach ${status}`,
      timeoutMs,
    );
  }

  async jobsRows(): Promise<JobEntity[]> {
    return this.dataSource.getRepository(JobEntity).find();
  }

  async stop(): Promise<void> {
    await this.stopWorkers();
    const jobIds = this.dataSource.isInitialized ? (await this.jobsRows().catch(() => [])).map((j) => j.id) : [];
    for (const hub of this.hubs.splice(0)) await hub.close();
    for (const server of [...(this.server ? [this.server] : []), ...this.moreServers.splice(0)]) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
    if (this.queue) {
      // Bounded: a test may point the stack at a Redis that does not answer.
      if (this.redis?.status === 'ready')
        await withTimeout(this.queue.obliterate({ force: true }), 10_000, 'obliterate').catch(() => undefined);
      await withTimeout(this.queue.close(), 5000, 'queue close').catch(() => undefined);
      // The inventory's queue and job scheduler (worker/inventory/) live beside it under the stack's prefix.
      if (this.redis?.status === 'ready') {
        const inventory = createInventoryQueue(this.redis, this.apiConfig.redis.prefix, this.deploymentId);
        inventory.on('error', () => undefined);
        await withTimeout(inventory.obliterate({ force: true }), 10_000, 'obliterate').catch(() => undefined);
        await withTimeout(inventory.close(), 5000, 'queue close').catch(() => undefined);
      }
    }
    this.redis?.disconnect();
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
    await dropDatabases([
      ...(await databasesLike(`t_${this.id}_`)),
      ...jobIds.map(stagingDatabaseName),
      `odsim_t_${this.id}`,
    ]);
  }

  /** A token for `client`, from the token endpoint. */
  async token(client: { client_id: string; client_secret: string }): Promise<string> {
    const r = await fetch(`${this.baseUrl}/connect/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: client.client_id,
        client_secret: client.client_secret,
      }),
    });
    if (r.status !== 200) throw new Error(`token request failed: ${r.status}`);
    return ((await r.json()) as { access_token: string }).access_token;
  }
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  return new Stack(options).start(options);
}
