import type { OperationPlan, PlannedStatement, PlanRequest } from '../module';
import { MARKER_KIND, ownershipMarker } from '../engine';
import { choosesBySize, createStrategyFor, type PostgresSettings } from './settings';
import * as sql from './statements';
import { planAdoption } from '../adoption-plan';

const PRIVILEGES = {
  create: [
    'CREATEDB (ALTER ROLE … CREATEDB)',
    "the template must be marked IS_TEMPLATE (ALTER DATABASE … IS_TEMPLATE true) or owned by the worker's role",
  ],
  copy: [
    'CREATEDB (ALTER ROLE … CREATEDB)',
    "ownership of the source database (the worker's role owns every database it created)",
    "membership in pg_signal_backend to end sessions of other roles (the ODS/API's)",
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
  // COMMENT ON DATABASE needs ownership (or membership in the owning role).
  adoption: ["ownership of the database, or membership in its owner's role (COMMENT ON DATABASE)"],
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
    { purpose, sql: newer(minimum), when: `PostgreSQL ${major} and newer`, serverVersions: { from: major } },
    { purpose, sql: older(minimum - 10000), when: `PostgreSQL before ${major}`, serverVersions: { before: major } },
  ];
}

/** The copy when the strategy depends on the template's size (PostgreSQL 15+; older servers have no STRATEGY). */
function bySizeStatements(purpose: string, staging: string, template: string, thresholdMb: number): PlannedStatement[] {
  const major = sql.PG_VERSION.createStrategy / 10000;
  const newer = { serverVersions: { from: major } };
  const at = (strategy: 'file_copy' | 'wal_log') =>
    sql.createFromTemplate(staging, template, strategy, sql.PG_VERSION.createStrategy);
  return [
    {
      purpose: `look: the size of ${template}, to choose the copy strategy ($1 = '${template}'; read again after 10 minutes)`,
      sql: sql.DATABASE_SIZE,
      when: `PostgreSQL ${major} and newer`,
      ...newer,
    },
    {
      purpose,
      sql: at('file_copy'),
      when: `PostgreSQL ${major} and newer, ${template} ${thresholdMb} MB or more`,
      ...newer,
    },
    {
      purpose,
      sql: at('wal_log'),
      when: `PostgreSQL ${major} and newer, ${template} under ${thresholdMb} MB`,
      ...newer,
    },
    {
      purpose,
      sql: sql.createFromTemplate(staging, template, '', sql.PG_VERSION.createStrategy - 10000),
      when: `PostgreSQL before ${major}`,
      serverVersions: { before: major },
    },
  ];
}

/** The driver's dropDatabase: one statement on 13+; on 11–12 a second look, connections shut, sessions ended, DROP. */
function dropStatements(name: string): PlannedStatement[] {
  const force = sql.PG_VERSION.dropForce / 10000;
  const legacy = { when: `PostgreSQL 11–${force - 1}`, serverVersions: { before: force } };
  return [
    {
      purpose: `drop ${name}, ending its sessions`,
      sql: sql.dropForce(name),
      when: `PostgreSQL ${force} and newer`,
      serverVersions: { from: force },
    },
    { purpose: `${LOOK} ($1 = '{${name}}'), again just before the drop`, sql: sql.DESCRIBE_DATABASES, ...legacy },
    { purpose: `shut ${name} to new connections`, sql: sql.allowConnections(name, false), ...legacy },
    {
      purpose: `end ${name}'s sessions ($1 = '${name}')`,
      sql: sql.terminateSessions(sql.PG_VERSION.dropForce - 10000),
      ...legacy,
    },
    { purpose: `drop ${name}`, sql: sql.dropPlain(name), ...legacy },
  ];
}

/**
 * The driver's cloneClosingSource: the source shut, its sessions ended, the clone, and the source
 * opened again (in a finally: also when the clone failed).
 */
function copyClosingSource(
  source: string,
  version: PlannedStatement,
  cloneStatements: PlannedStatement[],
): PlannedStatement[] {
  return [
    { purpose: `${LOOK} ($1 = '{${source}}', the copy's source)`, sql: sql.DESCRIBE_DATABASES },
    { purpose: `shut ${source} to new connections`, sql: sql.allowConnections(source, false) },
    version,
    ...versionVariants(
      `end ${source}'s sessions ($1 = '${source}')`,
      sql.PG_VERSION.terminateWaits,
      sql.terminateSessions,
      sql.terminateSessions,
    ),
    ...cloneStatements,
    { purpose: `look: ${source} still exists ($1 = '{${source}}')`, sql: sql.DESCRIBE_DATABASES },
    { purpose: `open ${source} to connections again`, sql: sql.allowConnections(source, true) },
  ];
}

function copyNotes(source: string, disconnect: boolean): string[] {
  return disconnect
    ? [
        `A copy: PostgreSQL copies only a database nobody is connected to, so "${source}" is shut to new connections and its sessions are ended (the ODS/API's pools reconnect once it is open again); "${source}" must carry the source instance's marker.`,
        `"${source}" is opened again whatever happens: right after the copy, even when it failed; a worker that dies in between leaves a note on its job (jobs.source_closed_at) that the job's next run, or the reconciler once the job has ended, acts on first. A "${source}" found already shut (by an administrator) is left shut.`,
        'While the copy runs, "ending sessions" may take a retry or two: a session that lingers (SQLSTATE 55006) is ended again and the copy tried again.',
      ]
    : [`A copy of "${source}": the copy fails and is retried while anyone is connected to it (SQLSTATE 55006).`];
}

const SESSION_NOTE = `Each new session of the worker first sends \`${sql.SESSION_SETUP}\` (PostgreSQL 14 and newer then stop the work of a worker that went away; older servers refuse it, and the error is ignored). Every session carries lock_timeout, so a statement waiting on a lock fails and is retried instead of hanging.`;

/** The PostgreSQL driver's statements for one operation, in the order it sends them. */
export function planPostgres(request: PlanRequest, settings: PostgresSettings): OperationPlan {
  if (request.operation === 'adopt' || request.operation === 'release')
    return planAdoption('postgres', request, postgresInspection, [...PRIVILEGES.adoption]);
  const base = { engine: 'postgres', operation: request.operation, notes: [] as string[] };
  const version: PlannedStatement = {
    purpose: 'look: the server version (once per worker process, the first time an operation needs it)',
    sql: sql.SERVER_VERSION,
  };
  if (request.operation === 'create') {
    const { databaseName, stagingName, templateDatabase, copy } = request;
    const strategy = createStrategyFor(settings, templateDatabase);
    const clone = (v: number) => sql.createFromTemplate(stagingName, templateDatabase, strategy, v);
    const what = copy ? `the source database ${templateDatabase}` : 'the template';
    const bySize = choosesBySize(settings, templateDatabase) ? settings.fileCopyAboveMb! : null;
    const cloneStatements: PlannedStatement[] =
      bySize !== null
        ? bySizeStatements(`copy ${what} into the staging database`, stagingName, templateDatabase, bySize)
        : strategy
          ? versionVariants(`copy ${what} into the staging database`, sql.PG_VERSION.createStrategy, clone, clone)
          : [{ purpose: `copy ${what} into the staging database`, sql: clone(sql.PG_VERSION.createStrategy) }];
    const statements: PlannedStatement[] = [
      {
        purpose: `look: which of '${databaseName}' and its staging copy '${stagingName}' exist, and whose marker each carries ($1 = both names)`,
        sql: sql.DESCRIBE_DATABASES,
      },
      ...(copy?.disconnectSource
        ? copyClosingSource(templateDatabase, version, cloneStatements)
        : [version, ...cloneStatements]),
      {
        purpose: "mark the copy as this instance's",
        sql: sql.markOwner(stagingName, ownershipMarker(request.instanceId)),
      },
      { purpose: 'give the copy its name', sql: sql.renameDatabase(stagingName, databaseName) },
      {
        purpose: 'prove the copy takes writes, under its name (nothing is kept)',
        sql: sql.WRITE_PROBE,
        database: databaseName,
      },
    ];
    return {
      ...base,
      strategy:
        bySize !== null
          ? `by size: file_copy if ${templateDatabase} is ${bySize} MB or more, else wal_log (PostgreSQL 15+)`
          : strategy || 'server default',
      statements,
      privileges: copy ? [...PRIVILEGES.copy] : [...PRIVILEGES.create],
      notes: [
        ...(copy ? copyNotes(templateDatabase, copy.disconnectSource) : []),
        `The staging name and the marker carry the ids given when the request is accepted; here they are ids made for this plan.`,
        `When "${databaseName}" already carries this instance's marker (a re-run), only the write probe runs on it.`,
        `A staging copy an interrupted drop left invalid is dropped first (as a delete drops), then copied again.`,
        SESSION_NOTE,
        ...(bySize !== null
          ? [
              `No strategy is set for ${templateDatabase} (ODS_TEMPLATES' strategy, ODS_PG_CREATE_STRATEGY), so the worker chooses by its size (ODS_PG_FILE_COPY_ABOVE_MB=${bySize}): WAL_LOG writes the whole copy into the WAL and leaves it for the next checkpoint, which costs more than FILE_COPY's two checkpoints for a large template (docs/benchmarks.md, "Copy strategy by size"). The size is read once and kept for 10 minutes per worker; if it cannot be read, the server's default is used.`,
            ]
          : []),
      ],
    };
  }
  if (request.operation === 'rename') {
    const { from, to } = request;
    return {
      ...base,
      strategy: null,
      statements: [
        { purpose: `${LOOK} ($1 = '{${from},${to}}', both names)`, sql: sql.DESCRIBE_DATABASES },
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
      notes: [
        "Connected applications (the ODS/API's pools) are disconnected: a rename needs the database to itself.",
        `When "${to}" already carries this instance's marker (a re-run), only the looks and the last statement run.`,
        SESSION_NOTE,
      ],
    };
  }
  const { databaseName, stagingNames } = request;
  const stagingLooks: PlannedStatement[] = stagingNames
    ? stagingNames.map((name) => ({
        purpose: `look: a staging copy of this instance's create job that a crash left ($1 = '{${name}}')`,
        sql: sql.DESCRIBE_DATABASES,
      }))
    : [
        {
          purpose: "look: a staging copy of this instance's create job that a crash left ($1 = its staging name)",
          sql: sql.DESCRIBE_DATABASES,
          when: 'once for each create job of the instance',
        },
      ];
  return {
    ...base,
    strategy: null,
    statements: [
      ...stagingLooks,
      { purpose: `${LOOK} ($1 = '{${databaseName}}')`, sql: sql.DESCRIBE_DATABASES },
      version,
      ...dropStatements(databaseName),
    ],
    privileges: [...PRIVILEGES.delete],
    notes: [
      `The drop runs only when "${databaseName}" carries this instance's marker: a database without it is never dropped (the job fails, or, after a failed create, leaves it alone and succeeds).`,
      `When "${databaseName}" is already gone, nothing is dropped: the worker looks for databases carrying this instance's marker under another name (\`${sql.DATABASES_WITH_MARKERS.replace(/\s+/g, ' ')}\`, $1 = '${MARKER_KIND}') and warns about each.`,
      'A staging copy a crash left behind is dropped the same way, before the database.',
      SESSION_NOTE,
    ],
  };
}

/** What the PostgreSQL driver sends when it checks, for another engine, work it did not do (worker/engines/command/). */
export const postgresInspection = {
  describe: (name: string): PlannedStatement[] => [
    { purpose: `${LOOK} ($1 = '{${name}}')`, sql: sql.DESCRIBE_DATABASES },
  ],
  markedElsewhere: (instanceId: string): PlannedStatement[] => [
    {
      purpose: `look: databases carrying the marker of instance ${instanceId} under another name`,
      sql: sql.DATABASES_WITH_MARKERS,
    },
  ],
  markOwner: (name: string, instanceId: string): PlannedStatement[] => [
    { purpose: `mark ${name} as this instance's`, sql: sql.markOwner(name, ownershipMarker(instanceId)) },
  ],
  clearOwner: (name: string): PlannedStatement[] => [
    { purpose: `remove this instance's marker from ${name} (the database is kept)`, sql: sql.clearOwner(name) },
  ],
  assertWritable: (name: string): PlannedStatement[] => [
    { purpose: `prove ${name} takes writes (nothing is kept)`, sql: sql.WRITE_PROBE, database: name },
  ],
};
