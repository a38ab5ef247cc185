import express, { Express } from 'express';
import type { RedisClient } from '../shared/redis';
import type { DataSource } from 'typeorm';
import type { ApiConfig } from '../shared/config';
import { JobDispatcher } from '../shared/jobs/dispatcher';
import type { createQueue } from '../shared/jobs/queue';
import type { Logger } from '../shared/logger';
import { ClientCheck } from './auth/client-check';
import { ClientStore } from './auth/clients';
import { GateProbe, HashGate } from './auth/hash-gate';
import { authenticate, requireAccess } from './auth/middleware';
import { tokenRoutes } from './auth/routes';
import { TokenDecisions } from './auth/token-decisions';
import { TokenService } from './auth/tokens';
import { dashboardRoutes } from './dashboard/routes';
import { docsRoutes } from './docs/routes';
import { healthRoutes } from './health/routes';
import { notFound, onlyMethods, problemHandler } from './http/problems';
import { requestContext } from './http/request-context';
import { securityHeaders } from './http/security-headers';
import { httpTracing } from './http/tracing';
import { isBulkPath } from './instances/bulk';
import { DatabaseNamePolicy } from './instances/database-name-policy';
import { InstancePlanner } from './instances/plan';
import { instanceRoutes } from './instances/routes';
import { InstanceService } from './instances/service';
import { ContextMode } from './instances/context-mode';
import { jobRoutes } from './jobs/routes';
import { settingsRoutes } from './settings/routes';
import { templateRoutes } from './templates/routes';
import { tenantScope } from './tenants/scope';
import { OPENAPI_DOCUMENT } from './openapi/document';
import type { EventHub } from './events/hub';
import { eventRoutes } from './events/routes';
import { webRoutes } from './web/routes';
import { dialectOf } from '../shared/database/dialects';
import { InventoryStore } from '../shared/inventory/store';
import { createInventoryQueue, type InventoryQueue } from '../shared/inventory/queue';
import { inventoryRoutes } from './inventory/routes';
import { METRICS_PATH, metricsRoutes } from './metrics/routes';
import { ApiMetrics } from './metrics/registry';

export interface AppDeps {
  config: ApiConfig;
  dataSource: DataSource;
  queue: ReturnType<typeof createQueue>;
  /** This deployment's id (from the admin database): tokens and queue names carry it. */
  deploymentId: string;
  /** The connection the queue uses; readiness pings it. */
  redis: RedisClient;
  tokens: TokenService;
  logger: Logger;
  /** Told of every secret hash start and end (tests count how many run at once). */
  hashGateProbe?: GateProbe;
  /** Where POST /admin/inventory asks for a run; made on `redis` when not given. */
  inventoryQueue?: InventoryQueue;
  /** The live change stream (`GET /admin/events`); an app built without one does not serve it. */
  events?: EventHub;
  /** The process's metrics, shared with the METRICS_PORT listener (api/main.ts); made here when not given. */
  metrics?: ApiMetrics;
}

/** Builds the HTTP API from its dependencies; starting, listening and stopping belong to main.ts. */
export function createApp(deps: AppDeps): Express {
  const { config, dataSource, logger } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  app.set('query parser', 'simple');

  // First, so the request's span covers everything after it (only when tracing is on: docs/tracing.md).
  const tracing = httpTracing();
  if (tracing) app.use(tracing);
  // Then the timing, so that every request is timed, those refused early included.
  const metrics = deps.metrics ?? new ApiMetrics({ dataSource, queue: deps.queue });
  app.use(metrics.http());
  app.use(securityHeaders());
  app.use(requestContext(logger));
  const json = express.json({
    limit: config.http.bodyLimit,
    strict: true,
    type: ['application/json', 'application/*+json'],
  });
  // A bulk create's larger body is read by its route, once the caller is authenticated (api/instances/bulk.ts).
  app.use((req, res, next) => (isBulkPath(req.path) ? next() : json(req, res, next)));

  app.use(healthRoutes({ dataSource, redis: deps.redis }));
  app.use(
    tokenRoutes({
      clients: new ClientStore(
        dataSource,
        new HashGate(
          { concurrency: config.tokens.hashConcurrency, queue: config.tokens.hashQueue },
          deps.hashGateProbe,
        ),
      ),
      tokens: deps.tokens,
      limits: {
        redis: deps.redis,
        keyPrefix: `${config.redis.prefix}:${deps.deploymentId}`,
        perAddressPerMinute: config.tokens.rateLimitPerMinute,
        perClientFailuresPerMinute: config.tokens.rateLimitPerClientPerMinute,
        log: logger,
      },
      decisions: new TokenDecisions(dataSource),
      bodyLimit: config.http.bodyLimit,
    }),
  );

  const dispatcher = new JobDispatcher(deps.queue, config.enqueueTimeoutMs, logger);
  const inventory = new InventoryStore(dataSource);
  const instances = new InstanceService(dataSource, dispatcher, inventory, {
    engine: config.ods.engine,
    unfinishedJobsPerClient: config.maxUnfinishedJobsPerClient,
    deletesEnabled: config.instanceDeletesEnabled,
    templates: config.ods.templates,
  });
  const names = new DatabaseNamePolicy(config.ods.engine, {
    adminDatabaseUrl: config.adminDatabase.url,
    templates: config.ods.templates,
    reservedNames: config.ods.reservedNames,
  });
  const clients = new ClientCheck(new ClientStore(dataSource), config.tokens.clientCheckCacheMs);
  const auth = authenticate(deps.tokens, clients);
  // Before the bearer-only /admin: the dashboard also takes its session cookie.
  app.use(dashboardRoutes({ queue: deps.queue, tokens: deps.tokens, clients }));
  app.use('/admin', auth);
  app.get('/openapi.json', auth, requireAccess('read'), (_req, res) => {
    res.json(OPENAPI_DOCUMENT);
  });
  app.all('/openapi.json', onlyMethods('GET'));
  // The instance, job and event routes act in one tenant (the `tenant` header); see api/tenants/scope.ts.
  const tenant = tenantScope(config.tenants, clients);
  app.use(['/admin/instances', '/admin/jobs', '/admin/events'], tenant);
  const mode = new ContextMode(config.contexts);
  app.use(
    instanceRoutes(
      instances,
      names,
      mode,
      new InstancePlanner(config.ods, config.engineSettingsProblems),
      config.bulkCreateMax,
    ),
  );
  app.use(jobRoutes(dataSource));
  app.use(templateRoutes(names.templates, (databases) => inventory.databaseFacts(databases)));
  app.use(
    inventoryRoutes(
      dataSource,
      deps.inventoryQueue ?? createInventoryQueue(deps.redis, config.redis.prefix, deps.deploymentId),
      config.tenants,
    ),
  );
  // Metrics are no public page: the same bearer tokens, read access.
  app.use(METRICS_PATH, auth);
  app.use(metricsRoutes(metrics));
  app.use(settingsRoutes(mode, config.tenants, clients, instances.deletionPolicy, config.ods.engine));
  if (deps.events) app.use(eventRoutes(deps.events, config.events.heartbeatMs, clients));
  app.use(docsRoutes());
  app.use(webRoutes());

  app.use(notFound());
  app.use(problemHandler(dialectOf(dataSource).isUnavailable));
  return app;
}
