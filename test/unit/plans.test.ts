import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type OperationPlan, type PlanRequest, runsOn } from '../../worker/engines/module';
import { planOperation } from '../../worker/engines/registry';
import { parsePostgresSettings } from '../../worker/engines/postgres/settings';

const run = promisify(execFile);
const CLI = join(__dirname, '..', '..', 'api', 'cli.js');
/** Nothing listens there: the plan command must need neither the admin database nor Redis nor the ODS server. */
const NOWHERE = {
  ADMIN_DATABASE_URL: 'postgres://nobody@127.0.0.1:1/nowhere',
  REDIS_URL: 'redis://127.0.0.1:1',
  ODS_SERVER_URL: 'postgres://nobody@127.0.0.1:1/postgres',
};

async function cli(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], {
      env: { PATH: process.env.PATH, ...NOWHERE, ...env },
      timeout: 20_000,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const { code, stdout, stderr } = err as { code: number; stdout: string; stderr: string };
    return { code, stdout, stderr };
  }
}

describe('plans', () => {
  describe('which statements a server version is sent', () => {
    const statement = (serverVersions?: { from?: number; before?: number }) => ({
      purpose: 'p',
      sql: 's',
      serverVersions,
    });

    it('reads serverVersions as from (inclusive) and before (exclusive); none means every version', () => {
      expect(runsOn(statement(), 11)).to.equal(true);
      expect([12, 13, 18].map((v) => runsOn(statement({ from: 13 }), v))).to.deep.equal([false, true, true]);
      expect([12, 13].map((v) => runsOn(statement({ before: 13 }), v))).to.deep.equal([true, false]);
      expect([13, 14, 15].map((v) => runsOn(statement({ from: 14, before: 15 }), v))).to.deep.equal([
        false,
        true,
        false,
      ]);
    });

    it('gives every PostgreSQL statement that depends on the version its versions in numbers, and one variant per version', () => {
      const requests: PlanRequest[] = [
        { operation: 'create', instanceId: 'i', databaseName: 'a', templateDatabase: 't', stagingName: 's' },
        { operation: 'rename', instanceId: 'i', from: 'a', to: 'b' },
        { operation: 'delete', instanceId: 'i', databaseName: 'a', stagingNames: ['s'] },
      ];
      for (const createStrategy of ['', 'wal_log', 'file_copy'] as const)
        for (const request of requests) {
          const plan: OperationPlan = planOperation('postgres', request, { createStrategy });
          for (const s of plan.statements)
            if (/PostgreSQL/.test(s.when ?? '')) expect(s.serverVersions, s.purpose).to.exist;
          for (const major of [11, 12, 13, 14, 15, 18]) {
            const sent = plan.statements.filter((s) => runsOn(s, major)).map((s) => s.purpose);
            expect(
              sent.filter((p) => p.startsWith('copy the template')),
              `${request.operation} on ${major}`,
            ).to.have.length(request.operation === 'create' ? 1 : 0);
            expect(
              sent.filter((p) => /^drop a\b/.test(p)),
              `${request.operation} on ${major}`,
            ).to.have.length(request.operation === 'delete' ? 1 : 0);
          }
        }
    });
  });

  describe('npm run cli -- plan', function () {
    this.timeout(30_000);

    it('prints the create statements for people, with the configured strategy, without any server', async () => {
      const r = await cli(['plan', 'create', '--database', 'EdFi_Ods_2027', '--template', 'My_Template'], {
        ODS_PG_CREATE_STRATEGY: 'wal_log',
      });
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.match(/^create on postgres \(strategy: wal_log\)/);
      expect(r.stdout).to.match(
        /CREATE DATABASE "odsim_staging_[0-9a-f]{32}" TEMPLATE "My_Template" STRATEGY = WAL_LOG;/,
      );
      expect(r.stdout).to.match(/\[PostgreSQL 15 and newer\]/);
      expect(r.stdout).to.match(/RENAME TO "EdFi_Ods_2027";/);
      expect(r.stdout).to.include('Privileges the worker needs:');
      expect(r.stdout).to.include('EdFi_Admin');
    });

    it('prints JSON with --json: the request it planned and the engine module’s plan for it', async () => {
      for (const args of [
        ['create', '--database', 'EdFi_Ods_2027'],
        ['rename', '--from', 'EdFi_Ods_2027', '--to', 'EdFi_Ods_2028'],
        ['delete', '--database', 'EdFi_Ods_2028'],
      ]) {
        const r = await cli(['plan', ...args, '--json']);
        expect(r.code, r.stderr).to.equal(0);
        const printed = JSON.parse(r.stdout) as OperationPlan & { request: PlanRequest };
        expect(printed.operation).to.equal(args[0]);
        if (printed.request.operation === 'create')
          expect(printed.request.templateDatabase).to.equal('EdFi_Ods_Minimal_Template');
        expect(printed.statements).to.deep.equal(
          planOperation('postgres', printed.request, parsePostgresSettings({}).settings).statements,
        );
      }
    });

    it('refuses names the API refuses, settings the worker refuses, and a command without its names', async () => {
      const reserved = await cli(['plan', 'create', '--database', 'EdFi_Admin']);
      expect(reserved.code).to.equal(2);
      expect(reserved.stderr).to.match(/databaseName is reserved/);
      const tooLong = await cli(['plan', 'rename', '--from', 'a', '--to', 'x'.repeat(64)]);
      expect(tooLong.code).to.equal(2);
      expect(tooLong.stderr).to.match(/at most 63 bytes/);
      const strategy = await cli(['plan', 'delete', '--database', 'a'], { ODS_PG_CREATE_STRATEGY: 'copy' });
      expect(strategy.code).to.equal(1);
      expect(strategy.stderr).to.include('ODS_PG_CREATE_STRATEGY');
      const missing = await cli(['plan', 'rename', '--from', 'a']);
      expect(missing.code).to.equal(2);
      expect(missing.stderr).to.include('plan rename --from NAME --to NAME');
    });
  });
});
