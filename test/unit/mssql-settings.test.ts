import { expect } from 'chai';
import { loadWorkerConfig } from '../../shared/config';
import { ConfigurationError } from '../../shared/errors';
import {
  isAzureSqlDatabase,
  mssqlUrlProblems,
  parseMssqlSettings,
  parseMssqlUrl,
  rdsS3Arn,
  strategyFor,
  templateBackupFile,
} from '../../worker/engines/mssql/settings';

const PASSWORD = 'S3cr3t!pa55';

describe('SQL Server settings', () => {
  describe('ODS_MSSQL_* variables', () => {
    it('defaults to backup-restore, with the server’s default directories', () => {
      expect(parseMssqlSettings({})).to.deep.equal({
        settings: {
          strategy: 'backup-restore',
          templateStrategies: {},
          backupDirectory: null,
          dataPath: null,
          logPath: null,
          templateBackupFiles: { default: null, byTemplate: {} },
          rdsS3Arns: { default: null, byTemplate: {} },
        },
        problems: [],
      });
    });

    it('reads the strategy, directories and per-template strategies', () => {
      const { settings, problems } = parseMssqlSettings({
        ODS_MSSQL_STRATEGY: 'Restore-File',
        ODS_MSSQL_TEMPLATE_STRATEGIES: 'EdFi_Ods_Minimal_Template=clonedatabase, Other=backup-restore',
        ODS_MSSQL_TEMPLATE_BACKUP_FILE: 'C:\\Templates\\EdFi_Ods_Populated_Template.bak',
        ODS_MSSQL_BACKUP_DIRECTORY: 'C:\\Backup',
        ODS_MSSQL_DATA_PATH: '/var/opt/mssql/data',
        ODS_MSSQL_LOG_PATH: '\\\\fileserver\\logs',
      });
      expect(problems).to.deep.equal([]);
      expect(settings.strategy).to.equal('restore-file');
      expect(strategyFor(settings, 'edfi_ods_minimal_template')).to.equal('clonedatabase');
      expect(strategyFor(settings, 'OTHER')).to.equal('backup-restore');
      expect(strategyFor(settings, 'EdFi_Ods_Populated_Template')).to.equal('restore-file');
      expect(templateBackupFile(settings, 'anything')).to.equal('C:\\Templates\\EdFi_Ods_Populated_Template.bak');
      expect(settings).to.include({
        backupDirectory: 'C:\\Backup',
        dataPath: '/var/opt/mssql/data',
        logPath: '\\\\fileserver\\logs',
      });
    });

    it('takes a backup file and an S3 ARN per template, with * for the rest', () => {
      const { settings, problems } = parseMssqlSettings({
        ODS_MSSQL_STRATEGY: 'rds-restore',
        ODS_MSSQL_RDS_S3_ARN: 'EdFi_Ods_Minimal_Template=arn:aws:s3:::b/minimal.bak,*=arn:aws:s3:::b/populated.bak',
        ODS_MSSQL_TEMPLATE_BACKUP_FILE: 'Sandbox=/t/sandbox.bak',
      });
      expect(problems).to.deep.equal([]);
      expect(rdsS3Arn(settings, 'EDFI_ODS_MINIMAL_TEMPLATE')).to.equal('arn:aws:s3:::b/minimal.bak');
      expect(rdsS3Arn(settings, 'Other')).to.equal('arn:aws:s3:::b/populated.bak');
      expect(templateBackupFile(settings, 'sandbox')).to.equal('/t/sandbox.bak');
      expect(templateBackupFile(settings, 'Other')).to.equal(null);
    });

    it('names the variable in every problem', () => {
      const { problems } = parseMssqlSettings({
        ODS_MSSQL_STRATEGY: 'detach-attach',
        ODS_MSSQL_TEMPLATE_STRATEGIES: 'A=copy,B,A=clonedatabase',
        ODS_MSSQL_BACKUP_DIRECTORY: 'relative\\dir',
        ODS_MSSQL_DATA_PATH: 'C:\\data\nx',
        ODS_MSSQL_RDS_S3_ARN: 's3://bucket/key.bak',
      });
      expect(problems).to.have.length.of.at.least(6);
      expect(problems.join('\n')).to.include(
        'ODS_MSSQL_STRATEGY="detach-attach": must be one of backup-restore, restore-file, clonedatabase, azure-copy, rds-restore',
      );
      for (const p of problems) expect(p).to.match(/^ODS_MSSQL_[A-Z0-9_]+[=:]/);
      expect(problems.join('\n')).to.include('"B" is not of the form Template=value');
      expect(problems.join('\n')).to.include('template "A" is given twice');
      expect(problems.join('\n')).to.include('ODS_MSSQL_BACKUP_DIRECTORY="relative\\\\dir": must be an absolute path');
      expect(problems.join('\n')).to.include('ODS_MSSQL_DATA_PATH: must not contain control characters');
      expect(problems.join('\n')).to.include('ODS_MSSQL_RDS_S3_ARN="s3://bucket/key.bak": must be an S3 object ARN');
    });

    it('requires a backup file for restore-file and an ARN for rds-restore, for the configured template', () => {
      expect(parseMssqlSettings({ ODS_MSSQL_STRATEGY: 'restore-file' }).problems).to.deep.equal([
        'ODS_MSSQL_TEMPLATE_BACKUP_FILE: the restore-file strategy needs a .bak path for template "EdFi_Ods_Minimal_Template"',
      ]);
      expect(
        parseMssqlSettings({ ODS_MSSQL_TEMPLATE_STRATEGIES: 'Mine=rds-restore', ODS_TEMPLATE_DATABASE: 'Mine' })
          .problems,
      ).to.deep.equal(['ODS_MSSQL_RDS_S3_ARN: the rds-restore strategy needs an S3 ARN for template "Mine"']);
    });

    it('refuses azure-copy mixed with another strategy (Azure SQL Database has no BACKUP or RESTORE)', () => {
      const mixed = parseMssqlSettings({
        ODS_MSSQL_STRATEGY: 'azure-copy',
        ODS_MSSQL_TEMPLATE_STRATEGIES: 'X=backup-restore',
      });
      expect(mixed.problems).to.have.length(1);
      expect(mixed.problems[0]).to.match(/^ODS_MSSQL_TEMPLATE_STRATEGIES: azure-copy .* cannot be mixed/);
      const azure = parseMssqlSettings({ ODS_MSSQL_STRATEGY: 'azure-copy' });
      expect(azure.problems).to.deep.equal([]);
      expect(isAzureSqlDatabase(azure.settings)).to.equal(true);
    });
  });

  describe('ODS_SERVER_URL', () => {
    it('turns a mssql:// URL into an mssql config, with master, port 1433 and encryption by default', () => {
      expect(parseMssqlUrl(`mssql://odsim:${encodeURIComponent(PASSWORD)}@sql.example.org`)).to.deep.equal({
        config: {
          server: 'sql.example.org',
          port: 1433,
          user: 'odsim',
          password: PASSWORD,
          database: 'master',
          connectionTimeout: 15000,
          options: { encrypt: true, trustServerCertificate: false, appName: 'ods-instance-manager-worker' },
        },
        problems: [],
      });
    });

    it('reads sqlserver://, the port, the database and the query options', () => {
      const { config, problems } = parseMssqlUrl(
        'sqlserver://sa:p%40ss%3Aword@10.0.0.5:14330/maint?encrypt=false&TrustServerCertificate=true&connectTimeout=30000',
      );
      expect(problems).to.deep.equal([]);
      expect(config).to.deep.include({
        server: '10.0.0.5',
        port: 14330,
        user: 'sa',
        password: 'p@ss:word',
        database: 'maint',
        connectionTimeout: 30000,
      });
      expect(config.options).to.deep.include({ encrypt: false, trustServerCertificate: true });
    });

    it('finds a named instance through the SQL Server Browser (no port)', () => {
      const { config, problems } = parseMssqlUrl('mssql://u:p@winhost?instanceName=SQLEXPRESS');
      expect(problems).to.deep.equal([]);
      expect(config.port).to.equal(undefined);
      expect(config.options).to.deep.include({ instanceName: 'SQLEXPRESS' });
    });

    it('says what is wrong without ever quoting the password', () => {
      const urls = [
        `postgres://odsim:${PASSWORD}@host/master`,
        `mssql://:${PASSWORD}@host/master`,
        `mssql://odsim:${PASSWORD}@host/master?encrypt=maybe&colour=blue`,
        `mssql://odsim:${PASSWORD}@host:1433/master?instanceName=X`,
        `mssql://odsim:${PASSWORD}@host/a/b`,
        `not a url ${PASSWORD}`,
      ];
      for (const url of urls) {
        const problems = mssqlUrlProblems(url);
        expect(problems, url).to.not.be.empty;
        expect(problems.join(' '), url).to.not.include(PASSWORD);
      }
      expect(mssqlUrlProblems(`mssql://odsim:${PASSWORD}@host/master?encrypt=maybe&colour=blue`)).to.deep.equal([
        'option "encrypt" must be true or false',
        'has an unknown option "colour" (known: encrypt, trustServerCertificate, instanceName, connectTimeout)',
      ]);
    });
  });

  describe('the worker configuration with ODS_ENGINE=mssql', () => {
    it('checks the URL and settings through the SQL Server module and hands the settings on', () => {
      const c = loadWorkerConfig({
        ODS_ENGINE: 'mssql',
        ODS_SERVER_URL: `mssql://odsim:${PASSWORD}@sql:1433/master?trustServerCertificate=true`,
        ODS_MSSQL_STRATEGY: 'clonedatabase',
      });
      expect(c.ods.engine).to.equal('mssql');
      expect(c.ods.engineSettings).to.deep.include({ strategy: 'clonedatabase', backupDirectory: null });
    });

    it('refuses a postgres:// server URL and bad ODS_MSSQL_* settings, hiding the URL', () => {
      try {
        loadWorkerConfig({
          ODS_ENGINE: 'mssql',
          ODS_SERVER_URL: `postgres://odsim:${PASSWORD}@pg/postgres`,
          ODS_MSSQL_STRATEGY: 'nope',
        });
        expect.fail('expected a ConfigurationError');
      } catch (err) {
        expect(err).to.be.instanceOf(ConfigurationError);
        const problems = (err as ConfigurationError).problems;
        expect(problems).to.include(
          'ODS_SERVER_URL=(hidden): must be a mssql:// or sqlserver:// URL (mssql://user:password@host:1433/master)',
        );
        expect(problems.some((p) => p.startsWith('ODS_MSSQL_STRATEGY='))).to.equal(true);
        expect((err as Error).message).to.not.include(PASSWORD);
      }
    });
  });
});
