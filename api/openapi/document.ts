/**
 * The API's contract, OpenAPI 3.1, served at /openapi.json. The test harness checks every
 * response it receives through its test stack against it (test/support/contract.ts), so the
 * document and the code cannot drift apart unnoticed.
 */
import { INSTANCE_STATUSES, JOB_STATUSES, OPERATIONS } from '../../shared/instances/status';

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const nullable = (schema: Record<string, unknown>) => ({ oneOf: [schema, { type: 'null' }] });
const link = { type: 'object', required: ['href'], properties: { href: { type: 'string' } } };
const dateTime = { type: 'string', format: 'date-time' };

const problem = (description: string, extraHeaders: Record<string, unknown> = {}) => ({
  description,
  headers: extraHeaders,
  content: { 'application/problem+json': { schema: ref('Problem') } },
});
const RETRY_AFTER = { 'Retry-After': { required: true, schema: { type: 'string', pattern: '^\\d+$' } } };
const ALLOW = { Allow: { required: true, schema: { type: 'string' } } };

/** The refusals every authenticated route can give. */
const AUTHENTICATED = {
  '401': problem('No token, or an invalid, expired or revoked one (WWW-Authenticate says which).'),
  '403': problem('The token lacks the scope this route needs, or its client may not act in the tenant named.'),
  '405': problem('A method this route does not take.', ALLOW),
  '503': problem('The admin database is unreachable or refusing connections.', RETRY_AFTER),
};
const WRITE = {
  '409': problem(
    'A name already in use, an unfinished job, a status that does not allow this, a protected instance (delete, rename, release) or deletes turned off (INSTANCE_DELETES_ENABLED=false).',
  ),
  '429': problem('This client has MAX_UNFINISHED_JOBS_PER_CLIENT queued or running jobs.', RETRY_AFTER),
};
const BODY = {
  '400': problem('Invalid body (errors by field), unknown fields included.'),
  '413': problem('Body over BODY_LIMIT.'),
  '415': problem('A body that is not JSON.'),
};
const idParameter = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };
/** The instance and job routes act in one tenant (api/tenants/scope.ts). */
const tenantParameter = {
  name: 'tenant',
  in: 'header',
  required: false,
  description:
    'The tenant to act in: required when the deployment has tenants (TENANTS; GET /admin/settings lists them), refused when it has none.',
  schema: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,62}$' },
};
/** The refusals of the tenant header: its own 400s; a tenant the client may not use is a 403 (in AUTHENTICATED). */
const TENANTED = {
  '400': problem('A missing, unexpected or unknown tenant header (errors.tenant), or an invalid query or body.'),
};
const contextSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['contextKey', 'contextValue'],
  properties: {
    contextKey: { type: 'string', pattern: '^[A-Za-z][A-Za-z0-9]{0,49}$' },
    contextValue: { type: 'string', minLength: 1, maxLength: 50 },
  },
};
const json = (schema: unknown, description: string, headers: Record<string, unknown> = {}) => ({
  description,
  headers,
  content: { 'application/json': { schema } },
});
const bearer = [{ bearer: [] }];
/** Optional query parameters of a list route (each validated by the route's DTO). */
const queryParameters = (names: string[]) =>
  names.map((name) => ({ name, in: 'query', required: false, schema: { type: 'string' } }));
/** How many a list route's filter matched in all, whatever the page. */
const TOTAL_COUNT = { required: true, schema: { type: 'string', pattern: '^\\d+$' } };
/** Keyset paging: the page after the one a cursor (Next-Cursor, or the after= of Link rel="next") ends. */
const AFTER_PARAMETER = {
  name: 'after',
  in: 'query',
  required: false,
  description:
    'Start after this cursor (from Next-Cursor or Link rel="next"), in the same order and filters; not with offset. ' +
    'A far page costs what the first does, and rows created meanwhile do not shift it.',
  schema: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,100}$' },
};
/** Sent when there is a page after this one. */
const NEXT_PAGE = {
  'Next-Cursor': {
    required: false,
    description: 'The cursor of the next page: send it as after=.',
    schema: { type: 'string', pattern: '^[A-Za-z0-9_-]+$' },
  },
  Link: {
    required: false,
    description:
      'The next page: `<path?…&after=cursor>; rel="next"` (RFC 8288), the same query with the cursor in place of offset.',
    schema: { type: 'string' },
  },
};

const inventoryRunSchema = nullable({
  type: 'object',
  additionalProperties: false,
  required: ['id', 'startedAt', 'finishedAt', 'ageSeconds', 'databaseCount', 'error'],
  properties: {
    id: { type: 'string', format: 'uuid' },
    startedAt: dateTime,
    finishedAt: nullable(dateTime),
    ageSeconds: { type: 'integer', minimum: 0, description: 'Seconds since it finished (or started, while it runs).' },
    databaseCount: nullable({ type: 'integer', minimum: 0 }),
    error: nullable({ type: 'string' }),
  },
});

const instanceSchema = {
  type: 'object',
  additionalProperties: false,
  required: [
    'id',
    'instanceName',
    'databaseName',
    'previousDatabaseName',
    'status',
    'engine',
    'lastError',
    'createdAt',
    'updatedAt',
    'deletedAt',
    'tenant',
    'instanceType',
    'odsInstanceContexts',
    'odsInstanceId',
    'apiClientKeys',
    'protected',
    'template',
    'inventory',
    'drift',
    'sourceInstanceId',
    'adopted',
    '_links',
  ],
  properties: {
    id: { type: 'string', format: 'uuid' },
    instanceName: { type: 'string', minLength: 1, maxLength: 100 },
    databaseName: { type: 'string' },
    previousDatabaseName: nullable({ type: 'string' }),
    status: { enum: [...INSTANCE_STATUSES] },
    engine: { type: 'string' },
    lastError: nullable({ type: 'string' }),
    createdAt: dateTime,
    updatedAt: dateTime,
    deletedAt: nullable(dateTime),
    tenant: { ...nullable({ type: 'string' }), description: 'null in a deployment without tenants.' },
    instanceType: nullable({ type: 'string' }),
    odsInstanceContexts: { type: 'array', maxItems: 5, items: contextSchema },
    odsInstanceId: {
      ...nullable({ type: 'integer' }),
      description:
        "dbo.OdsInstances.OdsInstanceId, once the worker registered the instance in the tenant's EdFi_Admin.",
    },
    apiClientKeys: { type: 'array', items: { type: 'string' } },
    protected: {
      type: 'boolean',
      description:
        'true: deletes, renames (instanceName or databaseName) and releases are refused with 409 until POST /admin/instances/{id}/unprotect.',
    },
    adopted: {
      type: 'boolean',
      description:
        'true: registered from an existing database (adopt: true) rather than copied. A DELETE without dropDatabase=true releases it (docs/adopt-release.md).',
    },
    template: {
      ...nullable({ type: 'string' }),
      description:
        'The template (GET /admin/templates) the instance was created from; null for instances older than templates.',
    },
    inventory: {
      ...nullable({
        type: 'object',
        additionalProperties: false,
        required: [
          'observedAt',
          'ageSeconds',
          'exists',
          'sizeBytes',
          'state',
          'connections',
          'edfiOdsVersion',
          'edfiStandardVersion',
        ],
        properties: {
          observedAt: dateTime,
          ageSeconds: { type: 'integer', minimum: 0 },
          exists: { type: 'boolean' },
          sizeBytes: nullable({ type: 'integer', minimum: 0 }),
          state: nullable({ type: 'string' }),
          connections: nullable({ type: 'integer', minimum: 0 }),
          edfiOdsVersion: nullable({ type: 'string' }),
          edfiStandardVersion: nullable({ type: 'string' }),
        },
      }),
      description:
        "What the worker's last inventory saw of the database (docs/inventory.md); null before a run since the instance existed, and in a write's answer.",
    },
    drift: {
      ...nullable({
        type: 'object',
        additionalProperties: false,
        required: ['kind', 'detail', 'observedAt'],
        properties: {
          kind: { enum: ['missing', 'marker'] },
          detail: { type: 'string' },
          observedAt: dateTime,
        },
      }),
      description:
        'Set when the database of a Created instance was dropped, renamed or re-marked outside the manager; never repaired automatically.',
    },
    sourceInstanceId: {
      ...nullable({ type: 'string', format: 'uuid' }),
      description:
        "The instance whose database this one's was copied from (POST /admin/instances with sourceInstanceId); null otherwise.",
    },
    job: {
      type: 'object',
      required: ['id', 'type', 'status'],
      properties: {
        id: { type: 'string' },
        type: { enum: [...OPERATIONS] },
        status: { enum: [...JOB_STATUSES] },
      },
    },
    _links: {
      type: 'object',
      required: ['self', 'jobs'],
      description:
        'What may be asked now: a link is left out when the status, the protection or INSTANCE_DELETES_ENABLED=false would refuse it.',
      properties: {
        self: link,
        jobs: link,
        job: link,
        rename: link,
        delete: link,
        release: link,
        retry: link,
        protect: link,
        unprotect: link,
        copyOf: { ...link, description: 'The instance this one was copied from.' },
      },
    },
  },
};

/** An instance as a dry run says it would be recorded: no links (a planned create's id leads nowhere). */
const { _links: _noLinks, job: _noJob, ...plannedInstanceProperties } = instanceSchema.properties;
const plannedInstanceSchema = {
  ...instanceSchema,
  required: instanceSchema.required.filter((name) => name !== '_links'),
  properties: plannedInstanceProperties,
};
const plannedStatementSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['purpose', 'sql'],
  properties: {
    purpose: { type: 'string' },
    sql: {
      type: 'string',
      description: 'The exact text the worker sends ($1 is a bound parameter, named in purpose).',
    },
    when: { type: 'string', description: 'The condition it is sent under, when not always (a server version).' },
    database: {
      type: 'string',
      description: "The database its session is connected to, when not the server URL's own.",
    },
    serverVersions: {
      type: 'object',
      additionalProperties: false,
      description: 'The server major versions it is sent to, when `when` names them: from `from` on, below `before`.',
      properties: { from: { type: 'integer' }, before: { type: 'integer' } },
    },
  },
};
const planSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['dryRun', 'operation', 'engine', 'strategy', 'instance', 'job', 'statements', 'privileges', 'notes'],
  properties: {
    dryRun: { const: true },
    operation: { enum: [...OPERATIONS, 'adopt'] },
    engine: { type: 'string' },
    strategy: { ...nullable({ type: 'string' }), description: 'The copy strategy of a create, as configured.' },
    instance: ref('PlannedInstance'),
    job: nullable({
      type: 'object',
      additionalProperties: false,
      required: ['id', 'type', 'sourceDatabaseName', 'targetDatabaseName', 'force'],
      properties: {
        id: { type: 'string', format: 'uuid' },
        type: { enum: [...OPERATIONS] },
        sourceDatabaseName: nullable({ type: 'string' }),
        targetDatabaseName: nullable({ type: 'string' }),
        force: { type: 'boolean' },
        sourceInstanceId: nullable({ type: 'string', format: 'uuid' }),
        disconnectSource: { type: 'boolean' },
      },
    }),
    statements: {
      type: 'array',
      items: ref('PlannedStatement'),
      description: 'In the order the worker sends them; version-dependent variants each carry `when`.',
    },
    privileges: { type: 'array', items: { type: 'string' } },
    notes: { type: 'array', items: { type: 'string' } },
  },
};
/** `?dryRun=true` on the writes that start a job. */
const dryRunParameter = {
  name: 'dryRun',
  in: 'query',
  required: false,
  description:
    'true: run every check of the request (scope, tenant, validation, conflicts), then answer 200 with the plan: the exact statements the worker would send to the ODS server for this engine and configuration, the privileges they need, and notes. Nothing is recorded or queued. false or absent: the request itself. Anything else: 400.',
  schema: { enum: ['true', 'false'] },
};

export const OPENAPI_DOCUMENT = {
  openapi: '3.1.0',
  info: {
    title: 'ODS Instance Manager',
    version: '0.1.0',
    description:
      'Create, view, rename and destroy Ed-Fi ODS/API instances. Writes are queued: the response carries the job; poll the instance or the job, or follow /admin/events.',
  },
  components: {
    securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
    schemas: {
      Problem: {
        type: 'object',
        required: ['type', 'title', 'status', 'detail'],
        properties: {
          type: { type: 'string' },
          title: { type: 'string' },
          status: { type: 'integer', minimum: 400, maximum: 599 },
          detail: { type: 'string' },
          instance: { type: 'string' },
          requestId: { type: 'string' },
          errors: { type: 'object', additionalProperties: { type: 'array', items: { type: 'string' } } },
          error: { type: 'string' },
          error_description: { type: 'string' },
        },
      },
      Instance: instanceSchema,
      PlannedInstance: plannedInstanceSchema,
      PlannedStatement: plannedStatementSchema,
      Plan: planSchema,
      Job: {
        type: 'object',
        additionalProperties: false,
        required: [
          'id',
          'instanceId',
          'type',
          'status',
          'attempts',
          'error',
          'warnings',
          'force',
          'createdAt',
          '_links',
        ],
        properties: {
          id: { type: 'string', format: 'uuid' },
          instanceId: { type: 'string', format: 'uuid' },
          type: { enum: [...OPERATIONS] },
          status: { enum: [...JOB_STATUSES] },
          attempts: { type: 'integer', minimum: 0 },
          sourceDatabaseName: nullable({ type: 'string' }),
          targetDatabaseName: nullable({ type: 'string' }),
          error: nullable({ type: 'string' }),
          warnings: { type: 'array', items: { type: 'string' } },
          requestId: nullable({ type: 'string' }),
          force: { type: 'boolean' },
          sourceInstanceId: {
            ...nullable({ type: 'string', format: 'uuid' }),
            description: 'A create that copies this instance (its database is sourceDatabaseName).',
          },
          disconnectSource: {
            type: 'boolean',
            description:
              "The copy may close the source's database to new connections and end its sessions (PostgreSQL).",
          },
          adopt: { type: 'boolean', description: 'A create that adopts an existing database instead of copying.' },
          createdAt: dateTime,
          startedAt: nullable(dateTime),
          finishedAt: nullable(dateTime),
          _links: { type: 'object', required: ['self', 'instance'], properties: { self: link, instance: link } },
        },
      },
      Token: {
        type: 'object',
        required: ['access_token', 'token_type', 'expires_in', 'scope'],
        properties: {
          access_token: { type: 'string' },
          token_type: { const: 'bearer' },
          expires_in: { type: 'integer' },
          scope: { type: 'string' },
        },
      },
      Health: {
        type: 'object',
        required: ['status'],
        properties: {
          status: { enum: ['up', 'down'] },
          checks: {
            type: 'object',
            properties: { adminDatabase: { enum: ['up', 'down'] }, redis: { enum: ['up', 'down'] } },
          },
        },
      },
      QueueStatus: {
        type: 'object',
        additionalProperties: false,
        required: ['paused', 'workers', 'counts', 'warnings'],
        properties: {
          paused: { type: 'boolean' },
          workers: nullable({ type: 'integer', minimum: 0 }),
          counts: { type: 'object', additionalProperties: { type: 'integer', minimum: 0 } },
          warnings: { type: 'array', items: { type: 'string' } },
        },
      },
      CreateInstance: {
        type: 'object',
        additionalProperties: false,
        required: ['instanceName'],
        properties: {
          instanceName: { type: 'string' },
          databaseName: {
            type: 'string',
            description:
              'Required unless the deployment derives names (ODS_DATABASE_NAME_PATTERN, shown by GET /admin/settings); then a left-out name is derived from the contexts.',
          },
          odsInstanceContexts: {
            type: 'array',
            maxItems: 5,
            items: contextSchema,
            description:
              'ODS/API route contexts (keys unique case-insensitively). schoolYearFromRoute: 2000-2099; keys ending in IdFromRoute: 1-10 digits, no leading zero; others: letters, digits, _ and -. Where ODS_CONTEXT_KEYS is set, exactly those keys. Two live instances of a tenant may not carry the same set (409).',
          },
          instanceType: { type: 'string', minLength: 1, maxLength: 100 },
          apiClientKeys: {
            type: 'array',
            maxItems: 20,
            uniqueItems: true,
            items: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,50}$' },
            description: 'EdFi_Admin ApiClients.Key values to link to the new instance.',
          },
          template: {
            type: 'string',
            pattern: '^[A-Za-z0-9][A-Za-z0-9-]{0,39}$',
            description:
              "The template to copy, by name (GET /admin/templates, compared case-insensitively); the deployment's default when left out.",
          },
          sourceInstanceId: {
            type: 'string',
            format: 'uuid',
            description:
              "Copy this instance's database, data included, instead of the template (docs/copy.md). It must be a Created instance of the tenant with no unfinished job (409 otherwise); while the copy is unfinished it cannot be renamed or deleted (409). Not in a bulk create, not with the command engine (400).",
          },
          disconnectSource: {
            type: 'boolean',
            description:
              "With sourceInstanceId on PostgreSQL, required and true (400 otherwise): PostgreSQL copies only a database nobody is connected to, so the source's database is closed to new connections and its sessions are ended while it is copied, then always reopened. Not needed on SQL Server (an online COPY_ONLY backup and restore).",
          },
          adopt: {
            type: 'boolean',
            description:
              "true: register the existing, unmanaged database databaseName (then required) instead of copying the template; the worker marks it as this instance's. It must exist and carry no other instance's marker, or the create fails (CreateFailed) and nothing changes. Not in a bulk create (docs/adopt-release.md).",
          },
        },
      },
      Template: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'databaseName', 'description', 'strategy', 'default', 'inventory'],
        properties: {
          name: { type: 'string' },
          databaseName: {
            type: 'string',
            description: 'The database on the ODS server a create copies; reserved: no operation may target it.',
          },
          description: { type: 'string' },
          strategy: {
            ...nullable({ type: 'string' }),
            description: "The engine's copy strategy for this template; null: the engine's setting.",
          },
          default: { type: 'boolean', description: 'The template of a create that names none (ODS_DEFAULT_TEMPLATE).' },
          inventory: {
            ...nullable({
              type: 'object',
              additionalProperties: false,
              required: ['observedAt', 'ageSeconds', 'exists', 'sizeBytes', 'edfiOdsVersion', 'edfiStandardVersion'],
              properties: {
                observedAt: dateTime,
                ageSeconds: { type: 'integer', minimum: 0 },
                exists: { type: 'boolean' },
                sizeBytes: nullable({ type: 'integer' }),
                edfiOdsVersion: {
                  ...nullable({ type: 'string' }),
                  description: 'util.GetEdFiOdsVersion(), where the database has it.',
                },
                edfiStandardVersion: {
                  ...nullable({ type: 'string' }),
                  description: 'util.GetEdFiStandardVersion(), where the database has it.',
                },
              },
            }),
            description:
              "What the worker's last inventory saw of the database (the API never looks itself); null before the first inventory.",
          },
        },
      },
      BulkCreate: {
        type: 'object',
        additionalProperties: false,
        required: ['instances'],
        properties: {
          instances: {
            type: 'array',
            minItems: 1,
            items: ref('CreateInstance'),
            description:
              'At most BULK_CREATE_MAX (default 100). Errors name each item by its index: instances[3].databaseName.',
          },
        },
      },
      BulkCreated: {
        type: 'object',
        additionalProperties: false,
        required: ['instances'],
        properties: { instances: { type: 'array', items: ref('Instance') } },
      },
      BulkPlan: {
        type: 'object',
        additionalProperties: false,
        required: ['dryRun', 'instances'],
        properties: { dryRun: { const: true }, instances: { type: 'array', items: ref('Plan') } },
      },
      Rollover: {
        type: 'object',
        additionalProperties: false,
        required: ['fromSchoolYear', 'toSchoolYear'],
        properties: {
          fromSchoolYear: { type: 'integer', minimum: 2000, maximum: 2099 },
          toSchoolYear: { type: 'integer', minimum: 2000, maximum: 2099, description: 'Not fromSchoolYear.' },
          mode: {
            enum: ['template', 'copy'],
            description:
              'template (default): each successor is created from the template; copy: from a copy of its source (needs the create fields sourceInstanceId/disconnectSource).',
          },
          disconnectSource: { type: 'boolean', description: 'mode copy only.' },
          instanceIds: {
            type: 'array',
            minItems: 1,
            items: { type: 'string', format: 'uuid' },
            description: 'Only these sources (at most 1000); each must have schoolYearFromRoute = fromSchoolYear.',
          },
        },
      },
      RolloverResult: {
        type: 'object',
        additionalProperties: false,
        required: ['dryRun', 'fromSchoolYear', 'toSchoolYear', 'mode', 'creates', 'skips', 'items'],
        properties: {
          dryRun: { type: 'boolean' },
          fromSchoolYear: { type: 'integer' },
          toSchoolYear: { type: 'integer' },
          mode: { enum: ['template', 'copy'] },
          creates: { type: 'integer', description: 'Successors created (dryRun: that would be).' },
          skips: { type: 'integer' },
          items: {
            type: 'array',
            description: 'One per source, oldest source first.',
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['source', 'action'],
              properties: {
                source: {
                  type: 'object',
                  additionalProperties: false,
                  required: ['id', 'instanceName', 'databaseName', 'status'],
                  properties: {
                    id: { type: 'string', format: 'uuid' },
                    instanceName: { type: 'string' },
                    databaseName: { type: 'string' },
                    status: { enum: [...INSTANCE_STATUSES] },
                  },
                },
                action: { enum: ['create', 'skip'] },
                reason: { type: 'string', description: 'skip: why.' },
                successor: {
                  type: 'object',
                  additionalProperties: false,
                  required: [
                    'instanceName',
                    'databaseName',
                    'odsInstanceContexts',
                    'instanceType',
                    'apiClientKeys',
                    'mode',
                  ],
                  properties: {
                    instanceName: { type: 'string' },
                    databaseName: { type: 'string' },
                    odsInstanceContexts: { type: 'array', items: contextSchema },
                    instanceType: nullable({ type: 'string' }),
                    apiClientKeys: { type: 'array', items: { type: 'string' } },
                    mode: { enum: ['template', 'copy'] },
                  },
                },
                instance: {
                  ...ref('Instance'),
                  description: 'create, not dryRun: the instance created, with its job.',
                },
              },
            },
          },
        },
      },
      Settings: {
        type: 'object',
        additionalProperties: false,
        required: ['contextKeys', 'databaseNamePattern', 'tenants', 'instanceDeletesEnabled', 'engine'],
        properties: {
          contextKeys: { type: 'array', items: { type: 'string' } },
          databaseNamePattern: nullable({ type: 'string' }),
          tenants: { type: 'array', items: { type: 'string' } },
          instanceDeletesEnabled: {
            type: 'boolean',
            description: 'INSTANCE_DELETES_ENABLED: false, every DELETE /admin/instances/{id} is refused with 409.',
          },
          engine: {
            type: 'string',
            description:
              'ODS_ENGINE (postgres, mssql, command): a copy (sourceInstanceId) needs disconnectSource: true on postgres and is refused on command.',
          },
        },
      },
      UpdateInstance: {
        type: 'object',
        additionalProperties: false,
        properties: { instanceName: { type: 'string' }, databaseName: { type: 'string' } },
      },
    },
  },
  paths: {
    '/connect/token': {
      post: {
        summary: 'A token for client credentials (form, JSON or HTTP Basic)',
        responses: {
          '200': json(ref('Token'), 'The token.'),
          '400': problem('A malformed request, an unsupported grant type or a scope the client may not have.'),
          '401': problem('Unknown client or wrong secret.'),
          '405': problem('A method this route does not take.', ALLOW),
          '413': problem('Body over BODY_LIMIT.'),
          '415': problem('A body that is neither a form nor JSON.'),
          '429': problem('Too many token requests from this address or for this client.', RETRY_AFTER),
          '503': problem('Too many secrets being checked at once, or the admin database unreachable.', RETRY_AFTER),
        },
      },
    },
    '/admin/instances': {
      parameters: [tenantParameter],
      get: {
        summary: 'List instances, oldest first (order=desc: newest first)',
        security: bearer,
        parameters: queryParameters([
          'offset',
          'limit',
          'status',
          'instanceName',
          'includeDeleted',
          'order',
          'protected',
          'drift',
        ]).concat(AFTER_PARAMETER),
        responses: {
          '200': json({ type: 'array', items: ref('Instance') }, 'A page of instances.', {
            'Total-Count': TOTAL_COUNT,
            ...NEXT_PAGE,
          }),
          ...TENANTED,
          ...AUTHENTICATED,
        },
      },
      post: {
        summary: 'Create an instance (queues a create)',
        security: bearer,
        parameters: [dryRunParameter],
        requestBody: { required: true, content: { 'application/json': { schema: ref('CreateInstance') } } },
        responses: {
          '201': json(ref('Instance'), 'Accepted: PendingCreate, with its job.', {
            Location: { required: true, schema: { type: 'string' } },
          }),
          '200': json(ref('Plan'), 'dryRun=true: the plan; nothing was recorded or queued.'),
          ...BODY,
          ...TENANTED,
          ...AUTHENTICATED,
          ...WRITE,
        },
      },
    },
    '/admin/instances/bulk': {
      parameters: [tenantParameter],
      post: {
        summary: 'Create many instances, all or nothing (one create job each)',
        description:
          'Every item is checked first (as a single create, and against the other items); one invalid item, or one whose name or contexts are taken, and nothing is created. Otherwise every instance, job and audit row is written in one transaction and each job queued.',
        security: bearer,
        parameters: [dryRunParameter],
        requestBody: { required: true, content: { 'application/json': { schema: ref('BulkCreate') } } },
        responses: {
          '201': json(ref('BulkCreated'), 'Accepted: every instance PendingCreate with its job, in request order.'),
          '200': json(ref('BulkPlan'), 'dryRun=true: the plan of each; nothing was recorded or queued.'),
          ...BODY,
          ...TENANTED,
          '400': problem(
            'An invalid item, two items with the same instanceName, databaseName or contexts, an empty list or more than BULK_CREATE_MAX (errors by item: instances[3].databaseName); or a missing or unknown tenant header.',
          ),
          '413': problem('Body over BULK_CREATE_MAX × 4 kB.'),
          ...AUTHENTICATED,
          '409': problem(
            'An item whose instanceName, databaseName or contexts an existing instance has (errors by item).',
          ),
          '429': problem(
            'The items would take this client over MAX_UNFINISHED_JOBS_PER_CLIENT queued or running jobs.',
            RETRY_AFTER,
          ),
        },
      },
    },
    '/admin/instances/rollover': {
      parameters: [tenantParameter],
      post: {
        summary: 'School-year rollover: create the next year’s instance of every Created instance of a year',
        description:
          'For every instance of the tenant with the context schoolYearFromRoute = fromSchoolYear, its successor (contexts, name and database name with the year replaced; same instanceType and apiClientKeys) or why it is skipped (not Created, successor exists, name taken, invalid). The successors are created as a bulk create does: all or nothing, one job each. A rerun creates only the missing ones. See docs/rollover.md.',
        security: bearer,
        parameters: [
          {
            name: 'dryRun',
            in: 'query',
            required: false,
            description: 'true: the same answer without creating anything (200). Anything but true or false: 400.',
            schema: { enum: ['true', 'false'] },
          },
        ],
        requestBody: { required: true, content: { 'application/json': { schema: ref('Rollover') } } },
        responses: {
          '201': json(ref('RolloverResult'), 'Successors created: each create item carries its instance and job.'),
          '200': json(ref('RolloverResult'), 'dryRun=true, or nothing to create (every source skipped).'),
          ...BODY,
          ...TENANTED,
          '400': problem(
            'An invalid body (years 2000–2099 and different, mode, instanceIds naming an instance that is not a source), more successors than BULK_CREATE_MAX (send instanceIds subsets), or a missing or unknown tenant header.',
          ),
          ...AUTHENTICATED,
          '409': problem('A name or contexts taken by a concurrent request after the plan was made (send it again).'),
          '429': problem(
            'The successors would take this client over MAX_UNFINISHED_JOBS_PER_CLIENT queued or running jobs.',
            RETRY_AFTER,
          ),
        },
      },
    },
    '/admin/instances/{id}': {
      parameters: [idParameter, tenantParameter],
      get: {
        summary: 'One instance, with its latest job',
        security: bearer,
        responses: {
          '200': json(ref('Instance'), 'The instance.'),
          '404': problem('No such instance (in this tenant).'),
          ...TENANTED,
          ...AUTHENTICATED,
        },
      },
      put: {
        summary: 'Change the name (metadata) and/or the database name (queues a rename)',
        security: bearer,
        parameters: [dryRunParameter],
        requestBody: { required: true, content: { 'application/json': { schema: ref('UpdateInstance') } } },
        responses: {
          '200': json(
            { oneOf: [ref('Instance'), ref('Plan')] },
            'The instance, PendingRename when its database is renamed; with dryRun=true, the plan (nothing changed).',
          ),
          '404': problem('No such instance (in this tenant).'),
          ...BODY,
          ...TENANTED,
          ...AUTHENTICATED,
          ...WRITE,
        },
      },
      delete: {
        summary:
          'Delete the instance and drop its database (queues a delete); an adopted instance, or dropDatabase=false, is released instead (queues a release)',
        security: bearer,
        parameters: [
          {
            name: 'force',
            in: 'query',
            required: false,
            description:
              'true: the delete also removes the EdFi_Admin links (ApiClientOdsInstances, OdsInstanceDerivatives) that would otherwise block it, audited. false or absent: it is refused while they exist. Anything else: 400.',
            schema: { enum: ['true', 'false'] },
          },
          {
            name: 'dropDatabase',
            in: 'query',
            required: false,
            description:
              'true: drop the database (a delete), also of an adopted instance. false: keep it (a release, for any instance). Absent: drop, unless the instance was adopted. INSTANCE_DELETES_ENABLED=false refuses only the deletes that drop. Anything else: 400.',
            schema: { enum: ['true', 'false'] },
          },
          dryRunParameter,
        ],
        responses: {
          '200': json(
            { oneOf: [ref('Instance'), ref('Plan')] },
            'PendingDelete (or PendingRelease: job.type says which), with its job (job.force in GET /admin/jobs/{id}); with dryRun=true, the plan (nothing changed).',
          ),
          '404': problem('No such instance (in this tenant).'),
          ...TENANTED,
          ...AUTHENTICATED,
          ...WRITE,
        },
      },
    },
    '/admin/instances/{id}/retry': {
      parameters: [idParameter, tenantParameter],
      post: {
        summary: 'Run again the operation that left the instance *Failed',
        security: bearer,
        responses: {
          '200': json(ref('Instance'), 'Pending again, with the new job.'),
          '404': problem('No such instance (in this tenant).'),
          ...TENANTED,
          ...AUTHENTICATED,
          ...WRITE,
        },
      },
    },
    '/admin/instances/{id}/release': {
      parameters: [idParameter, tenantParameter],
      post: {
        summary:
          'Release the instance (queues a release): unregistered from EdFi_Admin, its marker removed, the database kept; the instance ends Released, kept as history',
        security: bearer,
        parameters: [
          {
            name: 'force',
            in: 'query',
            required: false,
            description:
              'true: also remove the EdFi_Admin links (ApiClientOdsInstances, OdsInstanceDerivatives) that would otherwise block it, audited. Anything else than true or false: 400.',
            schema: { enum: ['true', 'false'] },
          },
          dryRunParameter,
        ],
        responses: {
          '200': json(
            { oneOf: [ref('Instance'), ref('Plan')] },
            'PendingRelease, with its job; with dryRun=true, the plan (nothing changed).',
          ),
          '404': problem('No such instance (in this tenant).'),
          ...TENANTED,
          ...AUTHENTICATED,
          ...WRITE,
        },
      },
    },
    '/admin/instances/{id}/protect': {
      parameters: [idParameter, tenantParameter],
      post: {
        summary:
          'Protect the instance: deletes and renames are refused (409) until it is unprotected; no job, audited (instance.protect)',
        security: bearer,
        responses: {
          '200': json(ref('Instance'), 'The instance, protected (already protected: unchanged, not audited again).'),
          '404': problem('No such instance (in this tenant).'),
          '409': problem('The instance has an unfinished job (protect it once it ends), or it has been deleted.'),
          ...TENANTED,
          ...AUTHENTICATED,
        },
      },
    },
    '/admin/instances/{id}/unprotect': {
      parameters: [idParameter, tenantParameter],
      post: {
        summary: 'Unprotect the instance: deletes and renames are possible again; no job, audited (instance.unprotect)',
        security: bearer,
        responses: {
          '200': json(
            ref('Instance'),
            'The instance, unprotected (already unprotected: unchanged, not audited again).',
          ),
          '404': problem('No such instance (in this tenant).'),
          '409': problem('The instance has been deleted.'),
          ...TENANTED,
          ...AUTHENTICATED,
        },
      },
    },
    '/admin/instances/{id}/jobs': {
      parameters: [idParameter, tenantParameter],
      get: {
        summary: "The instance's jobs, newest first",
        security: bearer,
        responses: {
          '200': json({ type: 'array', items: ref('Job') }, 'Jobs.'),
          '404': problem('No such instance (in this tenant).'),
          ...TENANTED,
          ...AUTHENTICATED,
        },
      },
    },
    '/admin/jobs': {
      parameters: [tenantParameter],
      get: {
        summary: "Every instance's jobs (of this tenant), newest first",
        security: bearer,
        parameters: queryParameters(['offset', 'limit', 'status']),
        responses: {
          '200': json({ type: 'array', items: ref('Job') }, 'A page of jobs.', {
            'Total-Count': TOTAL_COUNT,
          }),
          ...TENANTED,
          ...AUTHENTICATED,
        },
      },
    },
    '/admin/jobs/{id}': {
      parameters: [idParameter, tenantParameter],
      get: {
        summary: 'One job',
        security: bearer,
        responses: {
          '200': json(ref('Job'), 'The job.'),
          '404': problem('No such job (of an instance of this tenant).'),
          ...TENANTED,
          ...AUTHENTICATED,
        },
      },
    },
    '/admin/templates': {
      get: {
        summary: 'The templates a create may copy (ODS_TEMPLATES), with what the last inventory saw of each',
        security: bearer,
        responses: { '200': json({ type: 'array', items: ref('Template') }, 'The templates.'), ...AUTHENTICATED },
      },
    },
    '/admin/settings': {
      get: {
        summary:
          "The deployment's mode for a create form: context keys each instance carries, the databaseName pattern (null: databaseName required), the tenants this client may act in",
        security: bearer,
        responses: { '200': json(ref('Settings'), 'The settings.'), ...AUTHENTICATED },
      },
    },
    '/admin/events': {
      get: {
        summary:
          "Instance and job changes as server-sent events (Last-Event-ID resumes); with tenants, only the tenant header's tenant's instances",
        security: bearer,
        parameters: [
          { name: 'Last-Event-ID', in: 'header', required: false, schema: { type: 'string' } },
          tenantParameter,
        ],
        responses: {
          '200': { description: 'An event stream.', content: { 'text/event-stream': { schema: { type: 'string' } } } },
          ...TENANTED,
          ...AUTHENTICATED,
        },
      },
    },
    '/admin/queue': {
      get: {
        summary:
          'The queue: paused or not, workers connected (null if Redis will not say), job counts, warnings to show',
        security: bearer,
        responses: {
          '200': json(ref('QueueStatus'), 'The queue now.'),
          ...AUTHENTICATED,
          '503': problem('The admin database or Redis is unreachable.', RETRY_AFTER),
        },
      },
    },
    '/admin/queues/session': {
      post: {
        summary:
          "Trade the bearer token for the queue dashboard's cookie (odsim_board, HttpOnly, SameSite=Strict, Path=/admin/queues, until the token expires). The dashboard itself (/admin/queues, bull-board) is not described here.",
        security: bearer,
        responses: {
          '204': {
            description: 'The cookie is set.',
            headers: { 'Set-Cookie': { required: true, schema: { type: 'string' } } },
          },
          ...AUTHENTICATED,
        },
      },
      delete: {
        summary: "Clear the queue dashboard's cookie (no token needed)",
        responses: {
          '204': {
            description: 'The cookie is cleared.',
            headers: { 'Set-Cookie': { required: true, schema: { type: 'string' } } },
          },
          '405': problem('A method this route does not take.', ALLOW),
        },
      },
    },
    '/admin/inventory': {
      get: {
        summary:
          "The worker's inventory of the ODS server: the last run, the last successful one, and databases carrying this manager's marker for no live instance (not listed with tenants: only counted)",
        security: bearer,
        responses: {
          '200': json(
            {
              type: 'object',
              additionalProperties: false,
              required: ['lastRun', 'lastSuccessfulRun', 'unknownDatabaseCount', 'unknownDatabases', '_links'],
              properties: {
                lastRun: inventoryRunSchema,
                lastSuccessfulRun: inventoryRunSchema,
                unknownDatabaseCount: { type: 'integer', minimum: 0 },
                unknownDatabases: nullable({
                  type: 'array',
                  items: {
                    type: 'object',
                    additionalProperties: false,
                    required: ['databaseName', 'markerInstanceId', 'observedAt', 'sizeBytes', 'state'],
                    properties: {
                      databaseName: { type: 'string' },
                      markerInstanceId: { type: 'string', format: 'uuid' },
                      observedAt: dateTime,
                      sizeBytes: nullable({ type: 'integer', minimum: 0 }),
                      state: { type: 'string' },
                    },
                  },
                }),
                _links: { type: 'object' },
              },
            },
            'The inventory.',
          ),
          ...AUTHENTICATED,
        },
      },
      post: {
        summary:
          'Ask a worker for an inventory run now (one waiting or running request is not doubled); audited (inventory.request)',
        security: bearer,
        responses: {
          '202': json(
            {
              type: 'object',
              additionalProperties: false,
              required: ['queued', '_links'],
              properties: {
                queued: { type: 'boolean', description: 'false: a requested run was already waiting or running.' },
                _links: { type: 'object' },
              },
            },
            'Accepted; GET /admin/inventory shows the result.',
            { Location: { required: true, schema: { type: 'string' } } },
          ),
          ...AUTHENTICATED,
        },
      },
    },
    '/metrics': {
      get: {
        summary:
          'Prometheus metrics (odsim_instances, odsim_instances_drift, odsim_inventory_age_seconds, odsim_inventory_unknown_databases), read access',
        security: bearer,
        responses: {
          '200': { description: 'Prometheus text format.', content: { 'text/plain': { schema: { type: 'string' } } } },
          ...AUTHENTICATED,
        },
      },
    },
    '/openapi.json': {
      get: {
        summary: 'This document',
        security: bearer,
        responses: { '200': json({ type: 'object' }, 'The OpenAPI document.'), ...AUTHENTICATED },
      },
    },
    '/health/live': {
      get: {
        summary: 'The process is up',
        responses: { '200': json(ref('Health'), 'Up.'), '405': problem('A method this route does not take.', ALLOW) },
      },
    },
    '/health/ready': {
      get: {
        summary: 'The admin database and Redis answer',
        responses: {
          '200': json(ref('Health'), 'Ready.'),
          '503': json(ref('Health'), 'Not ready: a dependency is down.'),
          '405': problem('A method this route does not take.', ALLOW),
        },
      },
    },
  },
} as const;
