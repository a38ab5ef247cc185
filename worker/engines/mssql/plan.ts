import { planAdoption } from '../adoption-plan';
import type { OperationPlan, PlannedStatement, PlanRequest } from '../module';
import { ownershipMarker } from '../engine';
import {
  isAzureSqlDatabase,
  MssqlSettings,
  MssqlStrategy,
  rdsS3Arn,
  copyStrategyFor,
  strategyFor,
  templateBackupFile,
} from './settings';
import * as sql from './statements';

/** What the worker's login needs to create with each strategy; permission errors quote these. */
export const STRATEGY_PRIVILEGES: Record<MssqlStrategy, readonly string[]> = {
  'backup-restore': [
    'the dbcreator server role (or CREATE ANY DATABASE, with ALTER ANY DATABASE to rename and drop)',
    'BACKUP DATABASE on the template (db_backupoperator or db_owner in it)',
    'the SQL Server service account may write in ODS_MSSQL_BACKUP_DIRECTORY and in the data and log directories',
    'VIEW SERVER STATE (optional: restore progress)',
  ],
  'restore-file': [
    'the dbcreator server role (or CREATE ANY DATABASE, with ALTER ANY DATABASE to rename and drop)',
    'the SQL Server service account may read ODS_MSSQL_TEMPLATE_BACKUP_FILE and write in the data and log directories',
    'VIEW SERVER STATE (optional: restore progress)',
  ],
  clonedatabase: ['the sysadmin server role (DBCC CLONEDATABASE requires it)'],
  'azure-copy': [
    'the dbmanager role in master (or the server admin login)',
    'db_owner of the template database (a login, not a contained user, so it exists in both)',
  ],
  'rds-restore': [
    'the RDS master user (EXECUTE on msdb.dbo.rds_restore_database and rds_task_status)',
    'an option group with SQLSERVER_BACKUP_RESTORE whose IAM role may read ODS_MSSQL_RDS_S3_ARN',
  ],
};

const MANAGE_PRIVILEGES = {
  server: ['the dbcreator server role (or ALTER ANY DATABASE), or ownership of the database'],
  azure: ['the dbmanager role in master (the login that created a database owns it)'],
};

const LOOK = 'look: which database, if any, has this name, and its state';
const LOOK_MARKER = 'look: whose marker it carries (when it exists and is ONLINE)';

/** The placeholders a plan shows for what the driver learns from the server at run time. */
const DEFAULT_PATH = {
  data: '<InstanceDefaultDataPath>\\',
  log: '<InstanceDefaultLogPath>\\',
  backup: '<InstanceDefaultBackupPath>\\',
};

/** A long statement as the driver runs it: on a session of its own, its progress read from a second one. */
function long(purpose: string, text: string): PlannedStatement[] {
  return [
    { purpose: 'look: the session the long statement runs on (a session of its own, no timeout)', sql: sql.SESSION_ID },
    { purpose, sql: text },
    {
      purpose:
        'while it runs, every few seconds on a second session: its percent_complete (@session_id = that session)',
      sql: sql.REQUEST_PROGRESS,
    },
  ];
}

function looks(name: string, what: string, azure: boolean): PlannedStatement[] {
  return [
    { purpose: `${LOOK} (@name = '${name}'${what})`, sql: sql.DESCRIBE_DATABASE },
    azure
      ? { purpose: LOOK_MARKER, sql: sql.readMarker(), database: name }
      : { purpose: LOOK_MARKER, sql: sql.readMarker(name) },
  ];
}

function restoreStatements(
  stagingName: string,
  file: string,
  settings: MssqlSettings,
): { statements: PlannedStatement[]; notes: string[] } {
  const moves = sql.filePlacement(
    [
      { logicalName: '<logical data file>', type: 'D' },
      { logicalName: '<logical log file>', type: 'L' },
    ],
    stagingName,
    settings.dataPath ?? DEFAULT_PATH.data,
    settings.logPath ?? DEFAULT_PATH.log,
  );
  return {
    statements: [
      { purpose: 'look: the logical files the backup holds', sql: sql.fileListOnly(file) },
      ...long('restore the template into the staging database', sql.restoreDatabase(stagingName, file, moves)),
    ],
    notes: [
      'The MOVE clauses are shown for a backup of one data and one log file; the driver writes one per file RESTORE FILELISTONLY lists, with the logical names it reports.',
    ],
  };
}

function copyStatements(
  strategy: MssqlStrategy,
  template: string,
  stagingName: string,
  settings: MssqlSettings,
): { statements: PlannedStatement[]; notes: string[] } {
  const unconfiguredPaths = !settings.dataPath || !settings.logPath;
  const paths: PlannedStatement[] =
    unconfiguredPaths || (strategy === 'backup-restore' && !settings.backupDirectory)
      ? [{ purpose: "look: the server's default data, log and backup directories", sql: sql.SERVER_DEFAULT_PATHS }]
      : [];
  switch (strategy) {
    case 'backup-restore': {
      const file = sql.serverPath(
        settings.backupDirectory ?? DEFAULT_PATH.backup,
        sql.templateBackupFileName(template),
      );
      const restore = restoreStatements(stagingName, file, settings);
      return {
        statements: [
          ...paths,
          ...long(
            'back the template up (COPY_ONLY: its own backup chain is left alone)',
            sql.backupDatabase(template, file),
          ),
          ...restore.statements,
        ],
        notes: [
          ...restore.notes,
          `The backup file is one per template, overwritten by each backup (INIT), so it does not grow; it is not deleted (SQL Server deletes files only through xp_cmdshell).`,
        ],
      };
    }
    case 'restore-file': {
      const file = templateBackupFile(settings, template) ?? '<ODS_MSSQL_TEMPLATE_BACKUP_FILE>';
      const restore = restoreStatements(stagingName, file, settings);
      return { statements: [...(unconfiguredPaths ? paths : []), ...restore.statements], notes: restore.notes };
    }
    case 'clonedatabase':
      return {
        statements: [
          ...long(
            'clone the template’s schema (no rows) into the staging database',
            sql.cloneDatabase(template, stagingName),
          ),
          {
            purpose: 'make the clone writable (DBCC CLONEDATABASE leaves it read-only)',
            sql: sql.setReadWrite(stagingName),
          },
        ],
        notes: [
          'DBCC CLONEDATABASE copies the schema only: the template’s rows (Ed-Fi descriptors, …) are not copied, and Microsoft supports clones for diagnostics, not production. Choose it only for a template whose rows you load afterwards.',
        ],
      };
    case 'azure-copy':
      return {
        statements: [
          { purpose: 'start copying the template (asynchronous)', sql: sql.copyDatabase(stagingName, template) },
          {
            purpose: `poll until the copy is ONLINE (@name = '${stagingName}'; COPYING while it runs, errors from sys.dm_database_copies)`,
            sql: sql.COPY_STATUS,
          },
        ],
        notes: ['Error 40565 (one copy of a database at a time) is retried.'],
      };
    case 'rds-restore': {
      const arn = rdsS3Arn(settings, template) ?? '<ODS_MSSQL_RDS_S3_ARN>';
      return {
        statements: [
          {
            purpose: 'look: a restore task an earlier run started for the staging database',
            sql: sql.rdsTaskStatus(stagingName),
          },
          { purpose: 'start the native restore from S3 (an RDS task)', sql: sql.rdsRestore(stagingName, arn) },
          { purpose: 'poll the task until its lifecycle is SUCCESS or ERROR', sql: sql.rdsTaskStatus(stagingName) },
        ],
        notes: [
          'When an earlier run’s restore task is still CREATED or IN_PROGRESS, the driver waits for it instead of starting another.',
        ],
      };
    }
  }
}

function dropStatements(name: string, azure: boolean, when: string): PlannedStatement[] {
  return [
    ...(azure
      ? []
      : [{ purpose: `end ${name}'s sessions (their transactions roll back)`, sql: sql.setSingleUser(name), when }]),
    { purpose: `drop ${name}`, sql: sql.dropDatabase(name), when },
  ];
}

/** The SQL Server driver's statements for one operation, in the order it sends them. */
export function planMssql(request: PlanRequest, settings: MssqlSettings): OperationPlan {
  const base = { engine: 'mssql', operation: request.operation };
  const azure = isAzureSqlDatabase(settings);
  if (request.operation === 'create') {
    const { databaseName, stagingName, templateDatabase } = request;
    const copyStrategy = request.copy ? copyStrategyFor(settings) : undefined;
    if (copyStrategy === null)
      return {
        ...base,
        strategy: null,
        statements: [],
        privileges: [],
        notes: [
          'Copying an instance is not supported on RDS for SQL Server (no backup to the server and no database copy): the job would fail and change nothing.',
        ],
      };
    const strategy = copyStrategy ?? strategyFor(settings, templateDatabase);
    const copy = copyStatements(strategy, templateDatabase, stagingName, settings);
    const marker = ownershipMarker(request.instanceId);
    const statements: PlannedStatement[] = [
      ...looks(databaseName, '', azure),
      ...looks(stagingName, ', the staging copy', azure),
      ...(request.copy ? looks(templateDatabase, ", the copy's source", azure) : []),
      ...copy.statements,
      azure
        ? { purpose: "mark the copy as this instance's", sql: sql.markOwner(marker), database: stagingName }
        : { purpose: "mark the copy as this instance's", sql: sql.markOwner(marker, stagingName) },
      {
        purpose: 'prove the copy opens and takes writes (nothing is kept)',
        sql: sql.WRITE_PROBE,
        database: stagingName,
      },
      { purpose: 'give the copy its name', sql: sql.renameDatabase(stagingName, databaseName) },
    ];
    return {
      ...base,
      strategy,
      statements,
      privileges: [...STRATEGY_PRIVILEGES[strategy]],
      notes: [
        'The staging name and the marker carry the ids given when the request is accepted; here they are ids made for this plan.',
        `When "${databaseName}" already carries this instance's marker (a re-run), only the write probe runs on it.`,
        'Every statement runs alone, outside any transaction (BACKUP, RESTORE and CREATE DATABASE cannot run in one).',
        ...(request.copy
          ? [
              `A copy of "${templateDatabase}", taken online: no session of it is ended. Its marker (an extended property) comes along in the copy and is replaced by this instance's before the copy is used.`,
            ]
          : []),
        ...copy.notes,
      ],
    };
  }
  const privileges = [...(azure ? MANAGE_PRIVILEGES.azure : MANAGE_PRIVILEGES.server)];
  if (request.operation === 'adopt' || request.operation === 'release') {
    const on = (name: string) => (azure ? { database: name } : {});
    return planAdoption(
      'mssql',
      request,
      {
        describe: (name) => looks(name, '', azure),
        markOwner: (name, instanceId) => [
          {
            purpose: `mark ${name} as this instance's`,
            sql: sql.markOwner(ownershipMarker(instanceId), azure ? undefined : name),
            ...on(name),
          },
        ],
        clearOwner: (name) => [
          {
            purpose: `remove this instance's marker from ${name} (the database is kept)`,
            sql: sql.clearOwner(azure ? undefined : name),
            ...on(name),
          },
        ],
        assertWritable: (name) => [
          { purpose: `prove ${name} opens and takes writes (nothing is kept)`, sql: sql.WRITE_PROBE, database: name },
        ],
      },
      privileges,
    );
  }
  if (request.operation === 'rename') {
    const { from, to } = request;
    return {
      ...base,
      strategy: null,
      statements: [
        ...looks(from, '', azure),
        ...looks(to, '', azure),
        ...(azure ? [] : [{ purpose: `end ${from}'s sessions and keep others out`, sql: sql.setSingleUser(from) }]),
        { purpose: 'rename', sql: sql.renameDatabase(from, to) },
        ...(azure ? [] : [{ purpose: `open ${to} to everyone again`, sql: sql.setMultiUser(to) }]),
      ],
      privileges,
      notes: [
        "Connected applications (the ODS/API's pools) are disconnected: a rename needs the database to itself.",
        'The data and log files keep their names; only the database is renamed.',
      ],
    };
  }
  const { databaseName } = request;
  return {
    ...base,
    strategy: null,
    statements: [
      {
        purpose: "look: staging copies of this instance's create jobs that a crash left (@name = each staging name)",
        sql: sql.DESCRIBE_DATABASE,
      },
      ...looks(databaseName, '', azure),
      ...dropStatements(databaseName, azure, `when "${databaseName}" carries this instance's marker`),
      {
        purpose:
          "look: the databases whose marker is read (as above), to warn of one carrying this instance's under another name",
        sql: sql.USER_DATABASES,
        when: `when "${databaseName}" does not exist`,
      },
    ],
    privileges,
    notes: [
      "A database without this instance's marker is never dropped.",
      'A staging copy a crash left behind is dropped the same way before the database.',
    ],
  };
}
