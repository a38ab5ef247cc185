import { expect } from 'chai';
import type { InventoryDatabaseEntity } from '../../shared/database/entities';
import { driftOf, inventoryFacts } from '../../shared/inventory/drift';
import { CommandDriver } from '../../worker/engines/command/driver';
import type { CommandSettings } from '../../worker/engines/command/settings';
import type { ServerInspector, SurveyedDatabase } from '../../worker/engines/engine';
import * as mssql from '../../worker/engines/mssql/statements';
import * as postgresNames from '../../worker/engines/postgres/names';
import { silentLogger } from '../../shared/logger';

const ID = '0b0e0c0d-0000-4000-8000-000000000001';
const created = new Date('2026-01-01T10:00:00Z');
const run = { startedAt: new Date('2026-01-01T12:00:00Z'), finishedAt: new Date('2026-01-01T12:00:02Z') };
const instance = (over: Partial<{ status: string; updatedAt: Date; createdAt: Date }> = {}) =>
  ({ id: ID, status: 'Created', databaseName: 'EdFi_Ods_A', createdAt: created, updatedAt: created, ...over }) as never;
const database = (over: Partial<InventoryDatabaseEntity> = {}) => ({
  databaseName: 'EdFi_Ods_A',
  observedAt: run.finishedAt,
  sizeBytes: 1024,
  state: 'online',
  connections: 3,
  allowsConnections: true,
  markerInstanceId: ID,
  odsVersion: '7.3.0',
  standardVersion: '5.2.0',
  ...over,
});

describe('the inventory', () => {
  describe('drift rule', () => {
    it('is none for a Created instance whose database carries its marker', () => {
      expect(driftOf(instance(), run, database(), [])).to.equal(null);
    });

    it('is "missing" when the database is gone, naming where a database with its marker went', () => {
      expect(driftOf(instance(), run, null, [])).to.deep.include({ kind: 'missing' });
      expect(driftOf(instance(), run, null, ['EdFi_Ods_Renamed'])!.detail).to.include(
        'renamed by hand to "EdFi_Ods_Renamed"',
      );
    });

    it('is "marker" when the database carries no marker or another instance\'s', () => {
      expect(driftOf(instance(), run, database({ markerInstanceId: null }), [])).to.deep.include({ kind: 'marker' });
      const other = driftOf(
        instance(),
        run,
        database({ markerInstanceId: '11111111-1111-4111-8111-111111111111' }),
        [],
      );
      expect(other!.kind).to.equal('marker');
      expect(other!.detail).to.include('11111111-1111-4111-8111-111111111111');
    });

    it('is never decided for an instance changed since the run began, one with work under way, a failed one, or before any run', () => {
      expect(driftOf(instance({ updatedAt: new Date('2026-01-01T12:00:01Z') }), run, null, [])).to.equal(null);
      expect(driftOf(instance({ status: 'PendingRename' }), run, null, [])).to.equal(null);
      expect(driftOf(instance({ status: 'RenameFailed' }), run, null, [])).to.equal(null);
      expect(driftOf(instance({ status: 'Deleted' }), run, null, [])).to.equal(null);
      expect(driftOf(instance(), null, null, [])).to.equal(null);
      expect(driftOf(instance(), { ...run, finishedAt: null }, null, [])).to.equal(null);
    });
  });

  describe('facts of an instance', () => {
    it('are the database row with its age', () => {
      const now = new Date(run.finishedAt.getTime() + 30_500);
      expect(inventoryFacts(instance(), run, database(), now)).to.deep.equal({
        observedAt: run.finishedAt.toISOString(),
        ageSeconds: 30,
        exists: true,
        sizeBytes: 1024,
        state: 'online',
        connections: 3,
        edfiOdsVersion: '7.3.0',
        edfiStandardVersion: '5.2.0',
      });
    });

    it('are null when the run began before the instance existed, and "exists: false" when its database was not seen', () => {
      expect(inventoryFacts(instance({ createdAt: new Date('2026-01-01T12:00:01Z') }), run, null, new Date())).to.equal(
        null,
      );
      expect(inventoryFacts(instance(), run, null, new Date())).to.deep.include({ exists: false, sizeBytes: null });
    });
  });

  describe('the command engine', () => {
    const inspector = (survey?: () => Promise<SurveyedDatabase[]>) =>
      ({ ...(survey ? { survey } : {}), close: async () => undefined }) as unknown as ServerInspector;
    const command = (i: ServerInspector) =>
      new CommandDriver({
        settings: {} as CommandSettings,
        inspector: i,
        names: postgresNames,
        log: silentLogger(),
      });

    it("surveys through its verify engine's inspector where that one can (PostgreSQL)", async () => {
      const seen = [{ name: 'EdFi_Ods_A' } as SurveyedDatabase];
      const driver = command(inspector(async () => seen));
      expect(await driver.survey!()).to.equal(seen);
    });

    it('takes no inventory when its verify engine cannot survey (SQL Server, for now)', () => {
      expect(command(inspector()).survey).to.equal(undefined);
    });
  });

  describe('SQL Server survey statements (not run here: no SQL Server)', () => {
    it('reads every user database with state, access, read-only flag, size in bytes and other sessions, from master', () => {
      expect(mssql.SURVEY_DATABASES).to.match(/FROM sys\.databases d\s+WHERE d\.database_id > 4/);
      expect(mssql.SURVEY_DATABASES).to.include('d.state_desc, d.user_access_desc, d.is_read_only');
      expect(mssql.SURVEY_DATABASES).to.include('SUM(CAST(f.size AS bigint))');
      expect(mssql.SURVEY_DATABASES).to.include('* 8192');
      expect(mssql.SURVEY_DATABASES).to.match(
        /sys\.dm_exec_sessions s WHERE s\.database_id = d\.database_id AND s\.session_id <> @@SPID/,
      );
    });

    it('reads the Ed-Fi versions only where the functions exist', () => {
      expect(mssql.EDFI_VERSIONS).to.equal(
        "SELECT CASE WHEN OBJECT_ID(N'util.GetEdFiOdsVersion') IS NOT NULL THEN CAST(util.GetEdFiOdsVersion() AS nvarchar(64)) END AS ods_version, " +
          "CASE WHEN OBJECT_ID(N'util.GetEdFiStandardVersion') IS NOT NULL THEN CAST(util.GetEdFiStandardVersion() AS nvarchar(64)) END AS standard_version",
      );
    });

    it("reads each database's marker through a bracketed three-part name, whatever the name", () => {
      expect(mssql.surveyMarker('EdFi_Ods_]x')).to.equal(
        "SELECT CAST(value AS nvarchar(4000)) AS marker FROM [EdFi_Ods_]]x].sys.extended_properties WHERE class = 0 AND name = N'odsim.owner'",
      );
    });

    it("turns a catalog row into the inventory's shape: size in bytes, connectable only when online", () => {
      const row = {
        name: 'EdFi_Ods_2026',
        state_desc: 'ONLINE',
        user_access_desc: 'MULTI_USER',
        is_read_only: false,
        size_bytes: '52428800',
        connections: 3,
      };
      expect(mssql.surveyedDatabase(row)).to.deep.equal({
        name: 'EdFi_Ods_2026',
        sizeBytes: 52_428_800,
        state: 'online',
        connections: 3,
        allowsConnections: true,
        markerInstanceId: null,
        edfiOdsVersion: null,
        edfiStandardVersion: null,
      });
      expect(mssql.surveyedDatabase({ ...row, state_desc: 'RESTORING', size_bytes: null })).to.deep.include({
        state: 'restoring',
        sizeBytes: null,
        allowsConnections: false,
      });
    });

    it('normalizes state_desc, user access and the read-only flag', () => {
      const s = (state_desc: string, user_access_desc = 'MULTI_USER', is_read_only = false) =>
        mssql.surveyState({ state_desc, user_access_desc, is_read_only });
      expect(s('ONLINE')).to.equal('online');
      expect(s('ONLINE', 'MULTI_USER', true)).to.equal('read-only');
      expect(s('ONLINE', 'SINGLE_USER')).to.equal('single-user');
      expect(s('ONLINE', 'RESTRICTED_USER')).to.equal('restricted-user');
      expect(s('RESTORING')).to.equal('restoring');
      expect(s('RECOVERING')).to.equal('recovering');
      expect(s('RECOVERY_PENDING')).to.equal('recovery-pending');
      expect(s('SUSPECT')).to.equal('suspect');
      expect(s('EMERGENCY')).to.equal('emergency');
      expect(s('OFFLINE')).to.equal('offline');
    });
  });
});
