import { expect } from 'chai';
import { silentLogger } from '../../shared/logger';
import { STRATEGY_PRIVILEGES } from '../../worker/engines/mssql/plan';
import { missingPrivileges, prepareMssql } from '../../worker/engines/mssql/prepare';
import { parseMssqlSettings } from '../../worker/engines/mssql/settings';

const none = { create_any_database: 0, sysadmin: 0, dbcreator: 0, backup_template: 0, view_server_state: 0 };

describe('SQL Server start-up permission check', () => {
  it('names, per strategy, what a login without any privilege lacks', () => {
    expect(missingPrivileges('backup-restore', none, false)).to.deep.equal(
      STRATEGY_PRIVILEGES['backup-restore'].slice(0, 2),
    );
    expect(missingPrivileges('restore-file', none, false)).to.deep.equal([STRATEGY_PRIVILEGES['restore-file'][0]]);
    expect(missingPrivileges('clonedatabase', none, false)).to.deep.equal([
      'the sysadmin server role (DBCC CLONEDATABASE requires it)',
    ]);
    expect(missingPrivileges('rds-restore', none, false)).to.deep.equal([STRATEGY_PRIVILEGES['rds-restore'][0]]);
    expect(missingPrivileges('azure-copy', none, false)).to.deep.equal([]);
  });

  it('is satisfied by dbcreator and BACKUP DATABASE on the template, or by sysadmin', () => {
    expect(missingPrivileges('backup-restore', { ...none, dbcreator: 1, backup_template: 1 }, false)).to.deep.equal([]);
    expect(missingPrivileges('backup-restore', { ...none, create_any_database: 1 }, false)).to.deep.equal([
      STRATEGY_PRIVILEGES['backup-restore'][1],
    ]);
    for (const strategy of ['backup-restore', 'restore-file', 'clonedatabase'] as const)
      expect(missingPrivileges(strategy, { ...none, sysadmin: 1 }, false), strategy).to.deep.equal([]);
    expect(missingPrivileges('rds-restore', none, true)).to.deep.equal([]);
  });

  it('refuses the PostgreSQL-only stand-in template before connecting', async () => {
    const err = await prepareMssql({
      serverUrl: 'mssql://u:p@127.0.0.1:1/master',
      settings: parseMssqlSettings({}).settings,
      templateDatabase: 'EdFi_Ods_Minimal_Template',
      createStandInTemplate: true,
      log: silentLogger(),
    }).then(
      () => expect.fail('expected a refusal'),
      (e: unknown) => e as Error,
    );
    expect(err.message).to.match(/^ODS_TEMPLATE_STANDIN: .*PostgreSQL only/);
  });
});
