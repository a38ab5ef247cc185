import { expect } from 'chai';
import { ownershipMarker } from '../../worker/engines/engine';
import { planOperation } from '../../worker/engines/registry';
import { planMssql, STRATEGY_PRIVILEGES } from '../../worker/engines/mssql/plan';
import { MSSQL_STRATEGIES, MssqlStrategy, parseMssqlSettings } from '../../worker/engines/mssql/settings';
import * as sql from '../../worker/engines/mssql/statements';

const INSTANCE = '5f0c7c2e-0d5e-4b8e-9a57-2f1f3c0d9e11';
const STAGING = 'odsim_staging_0123456789abcdef0123456789abcdef';
const TEMPLATE = 'EdFi_Ods_Minimal_Template';
const create = {
  operation: 'create' as const,
  instanceId: INSTANCE,
  databaseName: 'EdFi_Ods_255901_2026',
  templateDatabase: TEMPLATE,
  stagingName: STAGING,
};
const MARKER = ownershipMarker(INSTANCE);

function settingsFor(strategy: MssqlStrategy, extra: NodeJS.ProcessEnv = {}) {
  const parsed = parseMssqlSettings({
    ODS_MSSQL_STRATEGY: strategy,
    ODS_MSSQL_TEMPLATE_BACKUP_FILE: 'C:\\Templates\\minimal.bak',
    ODS_MSSQL_RDS_S3_ARN: 'arn:aws:s3:::ed-fi/minimal.bak',
    ...extra,
  });
  expect(parsed.problems).to.deep.equal([]);
  return parsed.settings;
}

/** The statements the driver sends for the looks and the final steps of a create, on a server (not Azure). */
function createFrame(copy: string[]): string[] {
  return [
    sql.DESCRIBE_DATABASE,
    sql.readMarker(create.databaseName),
    sql.DESCRIBE_DATABASE,
    sql.readMarker(STAGING),
    ...copy,
    sql.markOwner(MARKER, STAGING),
    sql.WRITE_PROBE,
    sql.renameDatabase(STAGING, create.databaseName),
  ];
}

/** A long statement as the driver runs it: its session looked up first, its progress read meanwhile. */
const long = (text: string) => [sql.SESSION_ID, text, sql.REQUEST_PROGRESS];

const MOVES = (data: string, log: string) =>
  sql.filePlacement(
    [
      { logicalName: '<logical data file>', type: 'D' },
      { logicalName: '<logical log file>', type: 'L' },
    ],
    STAGING,
    data,
    log,
  );

describe('SQL Server plans', () => {
  it('plans through the registry like every engine', () => {
    const plan = planOperation('mssql', create, settingsFor('backup-restore'));
    expect(plan.engine).to.equal('mssql');
    expect(plan.strategy).to.equal('backup-restore');
  });

  it('backup-restore: backs up COPY_ONLY into the configured directory, reads the file list, restores WITH MOVE', () => {
    const settings = settingsFor('backup-restore', {
      ODS_MSSQL_BACKUP_DIRECTORY: 'C:\\Backup',
      ODS_MSSQL_DATA_PATH: 'C:\\Data',
      ODS_MSSQL_LOG_PATH: 'D:\\Logs',
    });
    const plan = planMssql(create, settings);
    const file = 'C:\\Backup\\odsim_template_EdFi_Ods_Minimal_Template.bak';
    expect(plan.statements.map((s) => s.sql)).to.deep.equal(
      createFrame([
        ...long(sql.backupDatabase(TEMPLATE, file)),
        sql.fileListOnly(file),
        ...long(sql.restoreDatabase(STAGING, file, MOVES('C:\\Data', 'D:\\Logs'))),
      ]),
    );
    expect(plan.privileges).to.deep.equal([...STRATEGY_PRIVILEGES['backup-restore']]);
    expect(plan.notes.join(' ')).to.match(/overwritten by each backup \(INIT\)/);
    expect(plan.statements.find((s) => s.sql === sql.WRITE_PROBE)?.database).to.equal(STAGING);
  });

  it("a copy of an instance: looks at the source, backs it up COPY_ONLY and restores it WITH MOVE, whatever the template's strategy", () => {
    const source = 'EdFi_Ods_255901_2025';
    const copy = { ...create, templateDatabase: source, copy: { sourceInstanceId: INSTANCE, disconnectSource: false } };
    for (const strategy of ['backup-restore', 'restore-file', 'clonedatabase'] as const) {
      const settings = settingsFor(strategy, {
        ODS_MSSQL_BACKUP_DIRECTORY: 'C:\\Backup',
        ODS_MSSQL_DATA_PATH: 'C:\\Data',
        ODS_MSSQL_LOG_PATH: 'D:\\Logs',
      });
      const plan = planMssql(copy, settings);
      const file = `C:\\Backup\\odsim_template_${source}.bak`;
      const sent = plan.statements.map((s) => s.sql);
      expect(plan.strategy, strategy).to.equal('backup-restore');
      expect(sent, strategy).to.deep.equal([
        ...createFrame([]).slice(0, 4),
        sql.DESCRIBE_DATABASE,
        sql.readMarker(source),
        ...long(sql.backupDatabase(source, file)),
        sql.fileListOnly(file),
        ...long(sql.restoreDatabase(STAGING, file, MOVES('C:\\Data', 'D:\\Logs'))),
        ...createFrame([]).slice(4),
      ]);
      expect(sql.backupDatabase(source, file)).to.match(/WITH COPY_ONLY/);
      // The source's marker comes along in the restore: it is replaced, not added to.
      expect(sql.markOwner(MARKER, STAGING)).to.match(
        /sp_updateextendedproperty .* ELSE EXEC .*sp_addextendedproperty/,
      );
      expect(sent.join('\n')).not.to.match(/SINGLE_USER/); // online: no session of the source is ended
      expect(plan.notes.join(' ')).to.match(/taken online/);
    }
  });

  it('a copy of an instance: AS COPY OF the source on Azure SQL Database, refused on RDS', () => {
    const source = 'EdFi_Ods_255901_2025';
    const copy = { ...create, templateDatabase: source, copy: { sourceInstanceId: INSTANCE, disconnectSource: false } };
    const azure = planMssql(copy, settingsFor('azure-copy'));
    expect(azure.statements.map((s) => s.sql)).to.include(sql.copyDatabase(STAGING, source));
    const rds = planMssql(copy, settingsFor('rds-restore'));
    expect(rds.statements).to.deep.equal([]);
    expect(rds.notes.join(' ')).to.match(/not supported on RDS/);
  });

  it('backup-restore: asks the server for its default directories when none is configured', () => {
    const plan = planMssql(create, settingsFor('backup-restore'));
    const file = '<InstanceDefaultBackupPath>\\odsim_template_EdFi_Ods_Minimal_Template.bak';
    expect(plan.statements.map((s) => s.sql)).to.deep.equal(
      createFrame([
        sql.SERVER_DEFAULT_PATHS,
        ...long(sql.backupDatabase(TEMPLATE, file)),
        sql.fileListOnly(file),
        ...long(sql.restoreDatabase(STAGING, file, MOVES('<InstanceDefaultDataPath>\\', '<InstanceDefaultLogPath>\\'))),
      ]),
    );
  });

  it('restore-file: restores the configured .bak, asking for no backup directory', () => {
    const plan = planMssql(
      create,
      settingsFor('restore-file', { ODS_MSSQL_DATA_PATH: '/d', ODS_MSSQL_LOG_PATH: '/l' }),
    );
    const file = 'C:\\Templates\\minimal.bak';
    expect(plan.statements.map((s) => s.sql)).to.deep.equal(
      createFrame([sql.fileListOnly(file), ...long(sql.restoreDatabase(STAGING, file, MOVES('/d', '/l')))]),
    );
  });

  it('clonedatabase: clones, makes the clone writable, and says why it is not the default', () => {
    const plan = planMssql(create, settingsFor('clonedatabase'));
    expect(plan.statements.map((s) => s.sql)).to.deep.equal(
      createFrame([...long(sql.cloneDatabase(TEMPLATE, STAGING)), sql.setReadWrite(STAGING)]),
    );
    expect(plan.privileges).to.deep.equal(['the sysadmin server role (DBCC CLONEDATABASE requires it)']);
    expect(plan.notes.join(' ')).to.match(/schema only.*diagnostics/);
  });

  it('rds-restore: looks for an earlier task, starts the restore from S3, polls the task', () => {
    const plan = planMssql(create, settingsFor('rds-restore'));
    expect(plan.statements.map((s) => s.sql)).to.deep.equal(
      createFrame([
        sql.rdsTaskStatus(STAGING),
        sql.rdsRestore(STAGING, 'arn:aws:s3:::ed-fi/minimal.bak'),
        sql.rdsTaskStatus(STAGING),
      ]),
    );
    expect(plan.privileges[0]).to.match(/RDS master user/);
  });

  it('azure-copy: copies AS COPY OF, polls, and reads and writes the marker on a session in the copy', () => {
    const plan = planMssql(create, settingsFor('azure-copy'));
    expect(plan.statements.map((s) => [s.sql, s.database ?? null])).to.deep.equal([
      [sql.DESCRIBE_DATABASE, null],
      [sql.readMarker(), create.databaseName],
      [sql.DESCRIBE_DATABASE, null],
      [sql.readMarker(), STAGING],
      [sql.copyDatabase(STAGING, TEMPLATE), null],
      [sql.COPY_STATUS, null],
      [sql.markOwner(MARKER), STAGING],
      [sql.WRITE_PROBE, STAGING],
      [sql.renameDatabase(STAGING, create.databaseName), null],
    ]);
    expect(plan.privileges.join(' ')).to.match(/dbmanager/);
  });

  it('uses a template’s own strategy when ODS_MSSQL_TEMPLATE_STRATEGIES names it', () => {
    const settings = settingsFor('backup-restore', { ODS_MSSQL_TEMPLATE_STRATEGIES: `${TEMPLATE}=clonedatabase` });
    expect(planMssql(create, settings).strategy).to.equal('clonedatabase');
    expect(planMssql({ ...create, templateDatabase: 'Other' }, settings).strategy).to.equal('backup-restore');
  });

  it('gives every strategy its privileges', () => {
    for (const strategy of MSSQL_STRATEGIES) {
      const plan = planMssql(create, settingsFor(strategy));
      expect(plan.privileges, strategy).to.not.be.empty;
      expect(plan.privileges, strategy).to.deep.equal([...STRATEGY_PRIVILEGES[strategy]]);
    }
  });

  it('rename: single user, MODIFY NAME, multi user', () => {
    const plan = planMssql(
      { operation: 'rename', instanceId: INSTANCE, from: 'A1', to: 'B2' },
      settingsFor('backup-restore'),
    );
    expect(plan.statements.map((s) => s.sql)).to.deep.equal([
      sql.DESCRIBE_DATABASE,
      sql.readMarker('A1'),
      sql.DESCRIBE_DATABASE,
      sql.readMarker('B2'),
      sql.setSingleUser('A1'),
      sql.renameDatabase('A1', 'B2'),
      sql.setMultiUser('B2'),
    ]);
    expect(plan.strategy).to.equal(null);
  });

  it('delete: drops after ending sessions, only when marked; on Azure without SINGLE_USER', () => {
    const request = { operation: 'delete' as const, instanceId: INSTANCE, databaseName: 'A1' };
    expect(planMssql(request, settingsFor('backup-restore')).statements.map((s) => s.sql)).to.deep.equal([
      sql.DESCRIBE_DATABASE,
      sql.DESCRIBE_DATABASE,
      sql.readMarker('A1'),
      sql.setSingleUser('A1'),
      sql.dropDatabase('A1'),
      sql.USER_DATABASES,
    ]);
    const azure = planMssql(request, settingsFor('azure-copy')).statements.map((s) => s.sql);
    expect(azure).to.deep.equal([
      sql.DESCRIBE_DATABASE,
      sql.DESCRIBE_DATABASE,
      sql.readMarker(),
      sql.dropDatabase('A1'),
      sql.USER_DATABASES,
    ]);
    expect(planMssql(request, settingsFor('backup-restore')).statements.at(-2)?.when).to.match(
      /carries this instance's marker/,
    );
  });
});
