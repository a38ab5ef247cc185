import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { protectionRefusal } from '../../api/instances/protection';
import { PermanentJobError } from '../../shared/errors';
import { type DatabaseDescription, ownershipMarker } from '../../worker/engines/engine';
import { parseMssqlSettings } from '../../worker/engines/mssql/settings';
import { clearOwner, markOwner } from '../../worker/engines/mssql/statements';
import { adoptDatabase, releaseDatabase } from '../../worker/engines/ownership';
import { planOperation } from '../../worker/engines/registry';

/**
 * The shared adopt and release rules, run against a recorded server (what each call would find
 * and what it would send), the SQL Server statements (SQL Server cannot run here: unit-tested
 * only) and the API's refusals. PostgreSQL runs them for real in test/integration/adopt-release.test.ts.
 */
class RecordedServer {
  readonly calls: string[] = [];
  constructor(private readonly found: DatabaseDescription | null) {}
  async describe(name: string) {
    this.calls.push(`describe ${name}`);
    return this.found;
  }
  async markOwner(name: string, instanceId: string) {
    this.calls.push(`mark ${name} ${instanceId}`);
  }
  async clearOwner(name: string) {
    this.calls.push(`clear ${name}`);
  }
  async assertWritable(name: string) {
    this.calls.push(`writable ${name}`);
  }
}

const ME = randomUUID();
const OTHER = randomUUID();
const db = (owner: string | null, valid = true): DatabaseDescription => ({
  name: 'EdFi_Ods_2025',
  ownerInstanceId: owner,
  valid,
  acceptsConnections: valid,
});
const adoptRequest = { instanceId: ME, databaseName: 'EdFi_Ods_2025' };
const releaseRequest = { ...adoptRequest, ownsNothing: false };

describe('adopt and release', () => {
  describe('adopting an existing database (every engine)', () => {
    it('marks an unmarked database and proves it takes writes, copying and dropping nothing', async () => {
      const server = new RecordedServer(db(null));
      expect((await adoptDatabase(server, adoptRequest)).outcome).to.equal('adopted');
      expect(server.calls).to.deep.equal([
        'describe EdFi_Ods_2025',
        `mark EdFi_Ods_2025 ${ME}`,
        'writable EdFi_Ods_2025',
      ]);
    });

    it("treats a database already carrying this instance's marker as adopted (a repeated run)", async () => {
      const server = new RecordedServer(db(ME));
      expect((await adoptDatabase(server, adoptRequest)).outcome).to.equal('already-adopted');
      expect(server.calls).to.deep.equal(['describe EdFi_Ods_2025', 'writable EdFi_Ods_2025']);
    });

    it("refuses, permanently and untouched, a missing database, another instance's, or one that is not usable", async () => {
      for (const [found, reason] of [
        [null, /does not exist; there is nothing to adopt/],
        [db(OTHER), new RegExp(`refusing to adopt database "EdFi_Ods_2025": it belongs to instance ${OTHER}`)],
        [db(null, false), /is not usable/],
      ] as const) {
        const server = new RecordedServer(found);
        const err = await adoptDatabase(server, adoptRequest).catch((e: unknown) => e);
        expect(err).to.be.instanceOf(PermanentJobError);
        expect((err as Error).message).to.match(reason);
        expect(server.calls).to.deep.equal(['describe EdFi_Ods_2025']);
      }
    });
  });

  describe('releasing a database (every engine)', () => {
    it("removes this instance's marker and never drops", async () => {
      const server = new RecordedServer(db(ME));
      expect((await releaseDatabase(server, releaseRequest)).outcome).to.equal('released');
      expect(server.calls).to.deep.equal(['describe EdFi_Ods_2025', 'clear EdFi_Ods_2025']);
    });

    it('has nothing to do for a missing or an unmarked database (a repeated run)', async () => {
      expect((await releaseDatabase(new RecordedServer(null), releaseRequest)).outcome).to.equal('already-absent');
      const unmarked = new RecordedServer(db(null));
      expect((await releaseDatabase(unmarked, releaseRequest)).outcome).to.equal('already-released');
      expect(unmarked.calls).to.deep.equal(['describe EdFi_Ods_2025']);
    });

    it("refuses another instance's database, untouched, unless this instance never owned one (a failed create)", async () => {
      const server = new RecordedServer(db(OTHER));
      const err = await releaseDatabase(server, releaseRequest).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(PermanentJobError);
      expect((err as Error).message).to.match(/refusing to release database "EdFi_Ods_2025": it belongs to instance/);
      expect(server.calls).to.deep.equal(['describe EdFi_Ods_2025']);
      const failedCreate = new RecordedServer(db(OTHER));
      expect((await releaseDatabase(failedCreate, { ...releaseRequest, ownsNothing: true })).outcome).to.equal(
        'left-unmanaged',
      );
      expect(failedCreate.calls).to.deep.equal(['describe EdFi_Ods_2025']);
    });
  });

  describe('SQL Server marker statements (unit-tested only)', () => {
    it('removes the extended property only when it is there, through a three-part name', () => {
      expect(clearOwner('EdFi_Ods_2025')).to.equal(
        "IF EXISTS (SELECT 1 FROM [EdFi_Ods_2025].sys.extended_properties WHERE class = 0 AND name = N'odsim.owner') " +
          "EXEC [EdFi_Ods_2025].sys.sp_dropextendedproperty @name = N'odsim.owner'",
      );
    });

    it('on a session in the database itself when no name is given (Azure SQL Database)', () => {
      expect(clearOwner()).to.equal(
        "IF EXISTS (SELECT 1 FROM sys.extended_properties WHERE class = 0 AND name = N'odsim.owner') " +
          "EXEC sys.sp_dropextendedproperty @name = N'odsim.owner'",
      );
    });

    it('refuses a database name that is not of the accepted shape', () => {
      expect(() => clearOwner('x]; DROP DATABASE master; --')).to.throw();
    });

    it('plans an adopt and a release with the same statements the driver sends', () => {
      const parsed = parseMssqlSettings({ ODS_MSSQL_STRATEGY: 'backup-restore' });
      expect(parsed.problems).to.deep.equal([]);
      const adopt = planOperation('mssql', { operation: 'adopt', ...adoptRequest }, parsed.settings);
      expect(adopt.operation).to.equal('adopt');
      expect(adopt.statements.map((s) => s.sql)).to.include(markOwner(ownershipMarker(ME), 'EdFi_Ods_2025'));
      const release = planOperation('mssql', { operation: 'release', ...adoptRequest }, parsed.settings);
      expect(release.statements.map((s) => s.sql)).to.include(clearOwner('EdFi_Ods_2025'));
      expect(release.statements.map((s) => s.sql).join('\n')).not.to.match(/DROP DATABASE/);
    });
  });

  describe('what the API refuses', () => {
    const instance = { id: ME, protected: false };
    it('lets a release through when deletes are turned off (it drops nothing), and refuses the delete', () => {
      expect(protectionRefusal('release', instance, { deletesEnabled: false })).to.equal(undefined);
      expect(protectionRefusal('delete', instance, { deletesEnabled: false })).to.match(/INSTANCE_DELETES_ENABLED/);
    });

    it('refuses a release of a protected instance', () => {
      expect(protectionRefusal('release', { ...instance, protected: true }, { deletesEnabled: true })).to.match(
        /protected: it cannot be released/,
      );
    });
  });
});
