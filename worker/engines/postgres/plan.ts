import type { OperationPlan, PlannedStatement, PlanRequest } from '../module';
import { ownershipMarker } from '../engine';
import type { PostgresSettings } from './settings';
import * as sql from './statements';

const PRIVILEGES = {
  create: [
    'CREATEDB (ALTER ROLE … CREATEDB)',
    "the template must be marked IS_TEMPLATE (ALTER DATABASE … IS_TEMPLATE true) or owned by the worker's role",
  ],
  rename: [
    "ownership of the database (the worker's role owns every database it created)",
    'CREATEDB',
    "membership in pg_signal_backend to end sessions of other roles (the ODS/API's)",
  ],
  delete: [
    "ownership of the database (the worker's role owns every database it created)",
    "membership in pg_signal_backend to end sessions of other roles (the ODS/API's)",
  ],
} as const;

const LOOK = 'look: which database, if any, has this name, and whose marker it carries';

function versionVariants(
  purpose: string,
  minimum: number,
  newer: (version: number) => string,
  older: (version: number) => string,
): PlannedStatement[] {
  const major = minimum / 10000;
  return [
    { purpose, sql: newer(minimum), when: `PostgreSQL ${major} and newer` },
    { purpose, sql: older(minimum - 10000), when: `PostgreSQL before ${major}` },
  ];
}

function dropStatements(name: string, when: string): PlannedStatement[] {
  return [
    {
      purpose: `drop ${name}, ending its sessions`,
      sql: sql.dropForce(name),
      when: `${when}; PostgreSQL 13 and newer`,
    },
    {
      purpose: `shut ${name} to new connections`,
      sql: sql.allowConnections(name, false),
      when: `${when}; PostgreSQL 11–12`,
    },
    {
      purpose: `end ${name}'s sessions ($1 = '${name}')`,
      sql: sql.terminateSessions(sql.PG_VERSION.dropForce - 10000),
      when: `${when}; PostgreSQL 11–12`,
    },
    { purpose: `drop ${name}`, sql: sql.dropPlain(name), when: `${when}; PostgreSQL 11–12` },
  ];
}

/** The PostgreSQL driver's statements for one operation, in the order it sends them. */
export function planPostgres(request: PlanRequest, settings: PostgresSettings): OperationPlan {
  const base = { engine: 'postgres', operation: request.operation, notes: [] as string[] };
  const version: PlannedStatement = { purpose: 'look: the server version', sql: sql.SERVER_VERSION };
  if (request.operation === 'create') {
    const { databaseName, stagingName, templateDatabase } = request;
    const clone = (v: number) => sql.createFromTemplate(stagingName, templateDatabase, settings.createStrategy, v);
    const statements: PlannedStatement[] = [
      { purpose: `${LOOK} ($1 = '${databaseName}')`, sql: sql.DESCRIBE_DATABASE },
      { purpose: `${LOOK} ($1 = '${stagingName}', the staging copy)`, sql: sql.DESCRIBE_DATABASE },
      version,
      ...(settings.createStrategy
        ? versionVariants(`copy the template into the staging database`, sql.PG_VERSION.createStrategy, clone, clone)
        : [{ purpose: 'copy the template into the staging database', sql: clone(sql.PG_VERSION.createStrategy) }]),
      {
        purpose: "mark the copy as this instance's",
        sql: sql.markOwner(stagingName, ownershipMarker(request.instanceId)),
      },
      ...sql.WRITE_PROBE.map((text) => ({
        purpose: 'prove the copy takes writes (nothing is kept)',
        sql: text,
        database: stagingName,
      })),
      { purpose: 'give the copy its name', sql: sql.renameDatabase(stagingName, databaseName) },
    ];
    return {
      ...base,
      strategy: settings.createStrategy || 'server default',
      statements,
      privileges: [...PRIVILEGES.create],
      notes: [
        `The staging name and the marker carry the ids given when the request is accepted; here they are ids made for this plan.`,
        `When "${databaseName}" already carries this instance's marker (a re-run), only the write probe runs on it.`,
      ],
    };
  }
  if (request.operation === 'rename') {
    const { from, to } = request;
    return {
      ...base,
      strategy: null,
      statements: [
        { purpose: `${LOOK} ($1 = '${from}')`, sql: sql.DESCRIBE_DATABASE },
        { purpose: `${LOOK} ($1 = '${to}')`, sql: sql.DESCRIBE_DATABASE },
        { purpose: `shut ${from} to new connections`, sql: sql.allowConnections(from, false) },
        version,
        ...versionVariants(
          `end ${from}'s sessions ($1 = '${from}')`,
          sql.PG_VERSION.terminateWaits,
          sql.terminateSessions,
          sql.terminateSessions,
        ),
        { purpose: 'rename', sql: sql.renameDatabase(from, to) },
        { purpose: `open ${to} to connections again`, sql: sql.allowConnections(to, true) },
      ],
      privileges: [...PRIVILEGES.rename],
      notes: ["Connected applications (the ODS/API's pools) are disconnected: a rename needs the database to itself."],
    };
  }
  const { databaseName } = request;
  return {
    ...base,
    strategy: null,
    statements: [
      {
        purpose: "look: staging copies of this instance's create jobs that a crash left ($1 = each staging name)",
        sql: sql.DESCRIBE_DATABASE,
      },
      { purpose: `${LOOK} ($1 = '${databaseName}')`, sql: sql.DESCRIBE_DATABASE },
      version,
      ...dropStatements(databaseName, `when "${databaseName}" carries this instance's marker`),
    ],
    privileges: [...PRIVILEGES.delete],
    notes: [
      "A database without this instance's marker is never dropped.",
      'A staging copy a crash left behind is dropped the same way before the database.',
    ],
  };
}

/** What the PostgreSQL driver sends when it checks, for another engine, work it did not do (worker/engines/command/). */
export const postgresInspection = {
  describe: (name: string): PlannedStatement[] => [{ purpose: `${LOOK} ($1 = '${name}')`, sql: sql.DESCRIBE_DATABASE }],
  markedElsewhere: (instanceId: string): PlannedStatement[] => [
    {
      purpose: `look: databases carrying the marker of instance ${instanceId} under another name`,
      sql: sql.DATABASES_WITH_MARKERS,
    },
  ],
  markOwner: (name: string, instanceId: string): PlannedStatement[] => [
    { purpose: `mark ${name} as this instance's`, sql: sql.markOwner(name, ownershipMarker(instanceId)) },
  ],
  assertWritable: (name: string): PlannedStatement[] =>
    sql.WRITE_PROBE.map((text) => ({
      purpose: `prove ${name} takes writes (nothing is kept)`,
      sql: text,
      database: name,
    })),
};
