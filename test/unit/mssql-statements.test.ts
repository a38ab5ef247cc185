import { expect } from 'chai';
import * as sql from '../../worker/engines/mssql/statements';
import { ownershipMarker } from '../../worker/engines/engine';

const STAGING = 'odsim_staging_0123456789abcdef0123456789abcdef';

describe('SQL Server statements', () => {
  describe('string literals', () => {
    it("are N'…' with single quotes doubled", () => {
      expect(sql.literal('plain')).to.equal("N'plain'");
      expect(sql.literal("O'Brien's")).to.equal("N'O''Brien''s'");
      expect(sql.literal("'; DROP DATABASE master; --")).to.equal("N'''; DROP DATABASE master; --'");
      expect(sql.literal('C:\\Backups\\t.bak')).to.equal("N'C:\\Backups\\t.bak'");
      expect(sql.literal('Ödön ✓')).to.equal("N'Ödön ✓'");
    });

    it('refuses a NUL character', () => {
      expect(() => sql.literal('a\u0000b')).to.throw(/NUL/);
    });
  });

  describe('backup-restore', () => {
    it('backs the template up COPY_ONLY, overwriting its one file, with checksums', () => {
      expect(
        sql.backupDatabase('EdFi_Ods_Minimal_Template', 'C:\\Backup\\odsim_template_EdFi_Ods_Minimal_Template.bak'),
      ).to.equal(
        "BACKUP DATABASE [EdFi_Ods_Minimal_Template] TO DISK = N'C:\\Backup\\odsim_template_EdFi_Ods_Minimal_Template.bak' WITH COPY_ONLY, INIT, CHECKSUM",
      );
    });

    it('brackets a template name with odd characters and escapes a path with a quote', () => {
      expect(sql.backupDatabase('Tmpl]x', "/var/opt/mssql/o'neil/t.bak")).to.equal(
        "BACKUP DATABASE [Tmpl]]x] TO DISK = N'/var/opt/mssql/o''neil/t.bak' WITH COPY_ONLY, INIT, CHECKSUM",
      );
    });

    it('names the backup file after the template, one per template', () => {
      expect(sql.templateBackupFileName('EdFi_Ods_Minimal_Template')).to.equal(
        'odsim_template_EdFi_Ods_Minimal_Template.bak',
      );
      expect(sql.templateBackupFileName('a b/c\\d]')).to.equal('odsim_template_a_b_c_d_.bak');
    });

    it('reads the logical files, then restores WITH MOVE of each, RECOVERY and STATS, never REPLACE', () => {
      expect(sql.fileListOnly('/b/t.bak')).to.equal("RESTORE FILELISTONLY FROM DISK = N'/b/t.bak'");
      const moves = sql.filePlacement(
        [
          { logicalName: 'EdFi_Ods_Minimal_Template', type: 'D' },
          { logicalName: 'EdFi_Ods_Minimal_Template_log', type: 'L' },
        ],
        STAGING,
        'C:\\Data\\',
        'D:\\Logs',
      );
      expect(moves).to.deep.equal([
        { logicalName: 'EdFi_Ods_Minimal_Template', physicalPath: `C:\\Data\\${STAGING}.mdf` },
        { logicalName: 'EdFi_Ods_Minimal_Template_log', physicalPath: `D:\\Logs\\${STAGING}.ldf` },
      ]);
      const restore = sql.restoreDatabase(STAGING, 'C:\\Backup\\t.bak', moves);
      expect(restore).to.equal(
        `RESTORE DATABASE [${STAGING}] FROM DISK = N'C:\\Backup\\t.bak' WITH ` +
          `MOVE N'EdFi_Ods_Minimal_Template' TO N'C:\\Data\\${STAGING}.mdf', ` +
          `MOVE N'EdFi_Ods_Minimal_Template_log' TO N'D:\\Logs\\${STAGING}.ldf', RECOVERY, STATS = 5`,
      );
      expect(restore).to.not.match(/REPLACE/);
    });

    it('places extra data, log and FILESTREAM files under distinct names, with Linux paths', () => {
      const moves = sql.filePlacement(
        [
          { logicalName: 'd1', type: 'D' },
          { logicalName: 'd2', type: 'D ' },
          { logicalName: 'l1', type: 'L' },
          { logicalName: 'l2', type: 'L' },
          { logicalName: 'fs', type: 'S' },
        ],
        'db',
        '/var/opt/mssql/data',
        '/var/opt/mssql/log/',
      );
      expect(moves.map((m) => m.physicalPath)).to.deep.equal([
        '/var/opt/mssql/data/db.mdf',
        '/var/opt/mssql/data/db_2.ndf',
        '/var/opt/mssql/log/db.ldf',
        '/var/opt/mssql/log/db_2.ldf',
        '/var/opt/mssql/data/db_s1',
      ]);
    });

    it('asks the server for its default directories', () => {
      expect(sql.SERVER_DEFAULT_PATHS).to.include("SERVERPROPERTY('InstanceDefaultDataPath')");
      expect(sql.SERVER_DEFAULT_PATHS).to.include("SERVERPROPERTY('InstanceDefaultLogPath')");
      expect(sql.SERVER_DEFAULT_PATHS).to.include("SERVERPROPERTY('InstanceDefaultBackupPath')");
    });
  });

  describe('clonedatabase, azure-copy, rds-restore', () => {
    it('clones with DBCC CLONEDATABASE … WITH VERIFY_CLONEDB, then makes the clone writable', () => {
      expect(sql.cloneDatabase('EdFi_Ods_Minimal_Template', STAGING)).to.equal(
        `DBCC CLONEDATABASE ([EdFi_Ods_Minimal_Template], [${STAGING}]) WITH VERIFY_CLONEDB`,
      );
      expect(sql.setReadWrite(STAGING)).to.equal(`ALTER DATABASE [${STAGING}] SET READ_WRITE`);
    });

    it('copies on Azure with AS COPY OF and polls sys.databases and sys.dm_database_copies', () => {
      expect(sql.copyDatabase(STAGING, 'EdFi_Ods_Minimal_Template')).to.equal(
        `CREATE DATABASE [${STAGING}] AS COPY OF [EdFi_Ods_Minimal_Template]`,
      );
      expect(sql.COPY_STATUS).to.equal(
        'SELECT d.state_desc, c.percent_complete, c.error_code, c.error_desc FROM sys.databases d ' +
          'LEFT JOIN sys.dm_database_copies c ON c.database_id = d.database_id WHERE d.name = @name',
      );
    });

    it('restores on RDS from an S3 ARN and polls the task', () => {
      expect(sql.rdsRestore(STAGING, 'arn:aws:s3:::bucket/ed-fi/minimal.bak')).to.equal(
        `exec msdb.dbo.rds_restore_database @restore_db_name = N'${STAGING}', @s3_arn_to_restore_from = N'arn:aws:s3:::bucket/ed-fi/minimal.bak'`,
      );
      expect(sql.rdsTaskStatus(STAGING)).to.equal(`exec msdb.dbo.rds_task_status @db_name = N'${STAGING}'`);
      expect(() => sql.rdsRestore("x'; --", 'arn:aws:s3:::b/k.bak')).to.throw(/refusing to quote/);
    });
  });

  describe('marker, looks, drop, rename, write probe', () => {
    const marker = ownershipMarker('5f0c7c2e-0d5e-4b8e-9a57-2f1f3c0d9e11');

    it('marks with a database-level extended property, updating one the copy brought along', () => {
      expect(sql.markOwner(marker, STAGING)).to.equal(
        `IF EXISTS (SELECT 1 FROM [${STAGING}].sys.extended_properties WHERE class = 0 AND name = N'odsim.owner') ` +
          `EXEC [${STAGING}].sys.sp_updateextendedproperty @name = N'odsim.owner', @value = N'${marker}' ` +
          `ELSE EXEC [${STAGING}].sys.sp_addextendedproperty @name = N'odsim.owner', @value = N'${marker}'`,
      );
      expect(sql.markOwner(marker)).to.match(
        /^IF EXISTS \(SELECT 1 FROM sys\.extended_properties .* ELSE EXEC sys\.sp_addextendedproperty/,
      );
    });

    it('reads the marker through a three-part name, or on a session in the database (Azure)', () => {
      expect(sql.readMarker('EdFi_Ods_1')).to.equal(
        "SELECT CAST(value AS nvarchar(4000)) AS marker FROM [EdFi_Ods_1].sys.extended_properties WHERE class = 0 AND name = N'odsim.owner'",
      );
      expect(sql.readMarker()).to.equal(
        "SELECT CAST(value AS nvarchar(4000)) AS marker FROM sys.extended_properties WHERE class = 0 AND name = N'odsim.owner'",
      );
    });

    it('looks a database up by a parameter, not a literal', () => {
      expect(sql.DESCRIBE_DATABASE).to.equal(
        'SELECT name, state_desc, user_access_desc, is_read_only FROM sys.databases WHERE name = @name',
      );
    });

    it('drops after SINGLE_USER WITH ROLLBACK IMMEDIATE, DROP alone', () => {
      expect(sql.setSingleUser('EdFi_Ods_1')).to.equal(
        'ALTER DATABASE [EdFi_Ods_1] SET SINGLE_USER WITH ROLLBACK IMMEDIATE',
      );
      expect(sql.dropDatabase('EdFi_Ods_1')).to.equal('DROP DATABASE [EdFi_Ods_1]');
    });

    it('renames with MODIFY NAME and reopens with MULTI_USER', () => {
      expect(sql.renameDatabase('EdFi_Ods_1', 'EdFi_Ods_2')).to.equal(
        'ALTER DATABASE [EdFi_Ods_1] MODIFY NAME = [EdFi_Ods_2]',
      );
      expect(sql.setMultiUser('EdFi_Ods_2')).to.equal('ALTER DATABASE [EdFi_Ods_2] SET MULTI_USER');
    });

    it('refuses to build DDL for a name of the wrong shape', () => {
      for (const build of [
        sql.dropDatabase,
        sql.setSingleUser,
        sql.setMultiUser,
        sql.setReadWrite,
        (n: string) => sql.readMarker(n),
      ])
        expect(() => build('x]; DROP DATABASE master; --')).to.throw(/refusing to quote/);
    });

    it('probes writes in a transaction that is rolled back, aborting on any error', () => {
      expect(sql.WRITE_PROBE).to.equal(
        'SET XACT_ABORT ON; BEGIN TRANSACTION; CREATE TABLE dbo.odsim_write_probe (id int); ' +
          'DROP TABLE dbo.odsim_write_probe; ROLLBACK TRANSACTION;',
      );
    });

    it('reads restore progress from sys.dm_exec_requests by session', () => {
      expect(sql.REQUEST_PROGRESS).to.equal(
        'SELECT command, percent_complete FROM sys.dm_exec_requests WHERE session_id = @session_id',
      );
    });
  });
});
