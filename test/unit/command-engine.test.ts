import { expect } from 'chai';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadApiConfig, loadWorkerConfig } from '../../shared/config';
import { ConfigurationError } from '../../shared/errors';
import { nameRulesFor } from '../../shared/database-names';
import { commandArguments, renderCommandLine } from '../../worker/engines/command/invocation';
import { lastLines, OUTPUT_TAIL_BYTES, OutputTail, redactOutput } from '../../worker/engines/command/output';
import { planCommand } from '../../worker/engines/command/plan';
import { runCommand } from '../../worker/engines/command/run';
import { CommandSettings, parseCommandSettings } from '../../worker/engines/command/settings';
import * as postgresNames from '../../worker/engines/postgres/names';

describe('external command engine', () => {
  let dir: string;
  let script: string;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'odsim-command-unit-'));
    script = join(dir, 'provision');
    // Prints each argument on its own line between brackets, and the environment it was given.
    writeFileSync(script, `#!/bin/sh\nfor a in "$@"; do printf '[%s]\\n' "$a"; done\nenv | sort > "${dir}/env"\n`);
    chmodSync(script, 0o755);
    writeFileSync(join(dir, 'not-executable'), '#!/bin/sh\n');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const settingsFor = (env: NodeJS.ProcessEnv) => parseCommandSettings({ ODS_COMMAND_PATH: script, ...env });

  describe('settings', () => {
    it('has safe defaults: 30 minutes, retry on exit 75, timeouts fail the job, checked on PostgreSQL', () => {
      const { settings, problems } = settingsFor({});
      expect(problems).to.deep.equal([]);
      expect(settings).to.deep.include({
        path: script,
        args: [],
        timeoutMs: 30 * 60_000,
        killGraceMs: 5_000,
        retryExitCodes: [75],
        timeoutIsTransient: false,
        verify: { engine: 'postgres', settings: { createStrategy: '', templateStrategies: {}, fileCopyAboveMb: 300 } },
      });
    });

    it('requires ODS_COMMAND_PATH to be an absolute path to an existing executable file', () => {
      const cases: [string | undefined, RegExp][] = [
        [undefined, /ODS_COMMAND_PATH is required/],
        ['provision', /ODS_COMMAND_PATH="provision": must be an absolute path/],
        [join(dir, 'missing'), /ODS_COMMAND_PATH=".*missing": does not exist/],
        [dir, /is not a file/],
        [join(dir, 'not-executable'), /is not executable/],
      ];
      for (const [path, problem] of cases) {
        const { problems } = parseCommandSettings(path === undefined ? {} : { ODS_COMMAND_PATH: path });
        expect(problems, String(path)).to.have.lengthOf(1);
        expect(problems[0]).to.match(problem);
      }
    });

    it('reads the fixed arguments as a JSON array of strings, and refuses anything else', () => {
      expect(settingsFor({ ODS_COMMAND_ARGS: '["-File", "a b.ps1", "; rm -rf /"]' }).settings.args).to.deep.equal([
        '-File',
        'a b.ps1',
        '; rm -rf /',
      ]);
      for (const bad of ['-File a.ps1', '"-File"', '[1, 2]', '{"a": 1}', '["a\\u0000b"]']) {
        const { problems } = settingsFor({ ODS_COMMAND_ARGS: bad });
        expect(problems, bad).to.have.lengthOf(1);
        expect(problems[0]).to.match(/^ODS_COMMAND_ARGS: must be a JSON array of strings/);
      }
    });

    it('names each bad number, exit code, flag and engine with its variable', () => {
      const { problems } = settingsFor({
        ODS_COMMAND_TIMEOUT_MS: '10s',
        ODS_COMMAND_KILL_GRACE_MS: '-1',
        ODS_COMMAND_RETRY_EXIT_CODES: '75,300',
        ODS_COMMAND_TIMEOUT_RETRY: 'maybe',
        ODS_COMMAND_VERIFY_ENGINE: 'oracle',
      });
      expect(problems).to.have.lengthOf(5);
      expect(problems[0]).to.match(/^ODS_COMMAND_TIMEOUT_MS="10s"/);
      expect(problems[1]).to.match(/^ODS_COMMAND_KILL_GRACE_MS="-1"/);
      expect(problems[2]).to.match(/^ODS_COMMAND_RETRY_EXIT_CODES="75,300": must be exit codes from 1 to 255/);
      expect(problems[3]).to.match(/^ODS_COMMAND_TIMEOUT_RETRY="maybe"/);
      expect(problems[4]).to.match(/^ODS_COMMAND_VERIFY_ENGINE="oracle": must be one of postgres/);
    });

    it('reads retry exit codes as a list, empty meaning none', () => {
      expect(settingsFor({ ODS_COMMAND_RETRY_EXIT_CODES: '75, 99' }).settings.retryExitCodes).to.deep.equal([75, 99]);
      expect(settingsFor({ ODS_COMMAND_RETRY_EXIT_CODES: '' }).settings.retryExitCodes).to.deep.equal([]);
      expect(settingsFor({ ODS_COMMAND_TIMEOUT_RETRY: 'true' }).settings.timeoutIsTransient).to.equal(true);
    });

    it('checks ODS_SERVER_URL against the verify engine, without showing it', () => {
      const { problems } = settingsFor({ ODS_SERVER_URL: 'mysql://root:hunter2@db/x' });
      expect(problems).to.have.lengthOf(1);
      expect(problems[0]).to.match(/^ODS_SERVER_URL=\(hidden\): .*postgres/);
      expect(problems[0]).to.not.include('hunter2');
    });

    it("gives the command only the allow-list and ODS_COMMAND_ENV_*, never the worker's own secrets", () => {
      const { settings } = settingsFor({
        PATH: '/usr/bin:/bin',
        HOME: '/home/odsim',
        LANG: 'C.UTF-8',
        ADMIN_DATABASE_URL: 'postgres://admin:admin-pass@db/odsim',
        ODS_SERVER_URL: 'postgres://worker:server-pass@db/postgres',
        REDIS_URL: 'redis://:redis-pass@cache',
        EDFI_ADMIN_ENCRYPTION_KEY: 'edfi-key-value',
        TOKEN_SIGNING_KEY: 'signing-key-value',
        NODE_OPTIONS: '--require /tmp/evil.js',
        ODS_COMMAND_ENV_PGPASSWORD: 'pg-secret',
        ODS_COMMAND_ENV_AZURE_TENANT: 'contoso',
        ODS_COMMAND_ENV_TARGET_URL: 'postgres://script:script-pass@db/postgres',
      });
      expect(settings.environment).to.deep.equal({
        PATH: '/usr/bin:/bin',
        HOME: '/home/odsim',
        LANG: 'C.UTF-8',
        PGPASSWORD: 'pg-secret',
        AZURE_TENANT: 'contoso',
        TARGET_URL: 'postgres://script:script-pass@db/postgres',
      });
      expect([...settings.secrets].sort()).to.deep.equal(
        [
          'admin-pass',
          'server-pass',
          'redis-pass',
          'edfi-key-value',
          'signing-key-value',
          'pg-secret',
          'script-pass',
        ].sort(),
      );
    });

    it('masks the passwords of a Sentinel REDIS_URL (several hosts) and of REDIS_SENTINEL_PASSWORD', () => {
      const { settings } = settingsFor({
        REDIS_URL: 'redis-sentinel://:redis-pass@s1:26379,s2:26379/mymaster',
        REDIS_SENTINEL_PASSWORD: 'sentinel-pass',
      });
      expect(settings.environment).to.not.have.property('REDIS_SENTINEL_PASSWORD');
      expect([...settings.secrets].sort()).to.deep.equal(['redis-pass', 'sentinel-pass']);
    });

    it('refuses a pass-through variable whose name is not a variable name', () => {
      const { problems } = settingsFor({ 'ODS_COMMAND_ENV_A-B': 'x', ODS_COMMAND_ENV_: 'y' });
      expect(problems).to.have.lengthOf(2);
      expect(problems[0]).to.match(/ODS_COMMAND_ENV_A-B: "A-B" is not a variable name/);
    });

    it('is read by the worker with ODS_ENGINE=command, each problem named; the API needs none of it', () => {
      expect(() => loadWorkerConfig({ ODS_ENGINE: 'command' }))
        .to.throw(ConfigurationError)
        .with.property('problems')
        .that.deep.equals([
          'ODS_COMMAND_PATH is required with ODS_ENGINE=command (the absolute path of the executable)',
        ]);
      const worker = loadWorkerConfig({ ODS_ENGINE: 'command', ODS_COMMAND_PATH: script });
      expect(worker.ods.engine).to.equal('command');
      expect((worker.ods.engineSettings as CommandSettings).path).to.equal(script);
      const api = loadApiConfig({ ODS_ENGINE: 'command' });
      expect(api.ods.engine).to.equal('command');
      // It starts; only its dry runs need the executable's settings, and they say so (503).
      expect(api.ods.engineSettings).to.equal(null);
      expect(api.engineSettingsProblems).to.deep.equal([
        'ODS_COMMAND_PATH is required with ODS_ENGINE=command (the absolute path of the executable)',
      ]);
      expect(loadApiConfig({ ODS_ENGINE: 'command', ODS_COMMAND_PATH: script }).engineSettingsProblems).to.deep.equal(
        [],
      );
    });
  });

  describe('names', () => {
    it("are the verify engine's: PostgreSQL's rules while PostgreSQL is the only one", () => {
      const rules = nameRulesFor('command');
      expect(rules.maxLength).to.equal(63);
      expect(rules.systemDatabases).to.deep.equal(postgresNames.systemDatabases);
      for (const name of ['EdFi_Ods_2025', '-rf', 'a b', 'x;rm', 'a'.repeat(64), 'odsim_staging_x', 'postgres'])
        expect(rules.validate(name, new Set(['postgres'])), name).to.deep.equal(
          postgresNames.validate(name, new Set(['postgres'])),
        );
    });
  });

  describe('arguments', () => {
    const id = '0b6a1c8e-6d1f-4c1b-9a57-3c2d7f1e9a00';

    it('puts the fixed arguments first, then the operation and one argument per flag and value', () => {
      const fixed = ['-NoProfile', '-File', '/opt/edfi/provision.ps1'];
      expect(
        commandArguments(fixed, {
          operation: 'create',
          instanceId: id,
          databaseName: 'EdFi_Ods_2025',
          templateDatabase: 'EdFi Ods Template',
          stagingName: 'odsim_staging_1',
        }),
      ).to.deep.equal([
        ...fixed,
        'create',
        '--instance-id',
        id,
        '--database',
        'EdFi_Ods_2025',
        '--template',
        'EdFi Ods Template',
        '--staging',
        'odsim_staging_1',
      ]);
      expect(commandArguments([], { operation: 'rename', instanceId: id, from: 'a', to: 'b' })).to.deep.equal([
        'rename',
        '--instance-id',
        id,
        '--from',
        'a',
        '--to',
        'b',
      ]);
      expect(commandArguments([], { operation: 'delete', instanceId: id, databaseName: 'a' })).to.deep.equal([
        'delete',
        '--instance-id',
        id,
        '--database',
        'a',
      ]);
    });

    it('renders the command line quoted for people, never for a shell to run', () => {
      expect(renderCommandLine('/opt/p', ['create', '; rm -rf /', "it's", 'plain_1'])).to.equal(
        `/opt/p create '; rm -rf /' 'it'\\''s' plain_1`,
      );
    });

    it('reaches the script as separate, literal arguments, with no shell in between', async () => {
      const hostile = ['; rm -rf /', '$(touch pwned)', '`id`', 'a b', "'", '"', '*', '--x=1 --y', ''];
      const { settings } = settingsFor({ PATH: process.env.PATH });
      const run = await runCommand(settings, hostile);
      expect(run.exitCode).to.equal(0);
      expect(run.stdout).to.equal(hostile.map((a) => `[${a}]\n`).join(''));
    });
  });

  describe('output', () => {
    it('keeps only the last 64 KiB of a stream, saying how much came before', () => {
      const tail = new OutputTail();
      for (let i = 0; i < 300; i++) tail.push(Buffer.from(`${String(i).padStart(4, '0')} ${'x'.repeat(1019)}\n`));
      const text = tail.text();
      expect(text).to.match(/^\[\d+ earlier bytes not kept\]\n/);
      expect(Buffer.byteLength(text.slice(text.indexOf('\n') + 1))).to.equal(OUTPUT_TAIL_BYTES);
      expect(text.trimEnd().endsWith('x')).to.equal(true);
      expect(text).to.include('0299 x');
    });

    it('masks passwords in URLs and connection strings, secret-named values and configured secrets', () => {
      const printed = [
        'connecting to postgres://edfi:Sup3r$ecret@db:5432/EdFi_Admin',
        'Host=db;Port=5432;Username=edfi;Password=Sup3r$ecret;Database=EdFi_Ods',
        'Server=sql;User Id=sa;Pwd=Sup3r$ecret;',
        'PGPASSWORD=Sup3r$ecret psql -c "select 1"',
        '{"client_secret": "abc123", "password":"p@ss"}',
        'the configured key is kv-9f8e7d6c and again kv-9f8e7d6c',
        'FATAL: password authentication failed for user "edfi"',
      ].join('\n');
      const masked = redactOutput(printed, ['kv-9f8e7d6c']);
      for (const secret of ['Sup3r$ecret', 'abc123', 'p@ss', 'kv-9f8e7d6c']) expect(masked).to.not.include(secret);
      expect(masked.split('\n')).to.deep.equal([
        'connecting to postgres://edfi:***@db:5432/EdFi_Admin',
        'Host=db;Port=5432;Username=edfi;Password=***;Database=EdFi_Ods',
        'Server=sql;User Id=sa;Pwd=***;',
        'PGPASSWORD=*** psql -c "select 1"',
        '{"client_secret": "***", "password":"***"}',
        'the configured key is *** and again ***',
        'FATAL: password authentication failed for user "edfi"',
      ]);
    });

    it('cuts a long output to its last lines for a message', () => {
      const text = Array.from({ length: 100 }, (_, i) => `line ${i}`).join('\n');
      const cut = lastLines(text, 40);
      expect(cut.startsWith('…line 9')).to.equal(true);
      expect(cut.endsWith('line 99')).to.equal(true);
      expect(lastLines('short\n', 40)).to.equal('short');
    });
  });

  describe('plan', () => {
    it('shows the exact command line between the looks before and the checks after', () => {
      const { settings } = settingsFor({ ODS_COMMAND_ARGS: '["--profile", "; rm -rf /"]' });
      const plan = planCommand(
        {
          operation: 'create',
          instanceId: '0b6a1c8e-6d1f-4c1b-9a57-3c2d7f1e9a00',
          databaseName: 'EdFi_Ods_X',
          templateDatabase: 'EdFi_Ods_Minimal_Template',
          stagingName: 'odsim_staging_1',
        },
        settings,
      );
      expect(plan.engine).to.equal('command');
      const command = plan.statements.find((s) => s.argv);
      expect(command!.argv).to.deep.equal([
        '--profile',
        '; rm -rf /',
        'create',
        '--instance-id',
        '0b6a1c8e-6d1f-4c1b-9a57-3c2d7f1e9a00',
        '--database',
        'EdFi_Ods_X',
        '--template',
        'EdFi_Ods_Minimal_Template',
        '--staging',
        'odsim_staging_1',
      ]);
      expect(command!.sql).to.equal(
        `${script} --profile '; rm -rf /' create --instance-id 0b6a1c8e-6d1f-4c1b-9a57-3c2d7f1e9a00 --database EdFi_Ods_X --template EdFi_Ods_Minimal_Template --staging odsim_staging_1`,
      );
      const sql = plan.statements.map((s) => s.sql);
      expect(sql.indexOf(command!.sql)).to.be.greaterThan(0);
      expect(sql).to.include(
        `COMMENT ON DATABASE "EdFi_Ods_X" IS '{"managedBy":"ods-instance-manager","instanceId":"0b6a1c8e-6d1f-4c1b-9a57-3c2d7f1e9a00"}'`,
      );
      expect(sql.filter((s) => /FROM pg_database/.test(s)).length).to.be.greaterThan(1);
    });

    it('plans rename and delete with the same command and checks', () => {
      const { settings } = settingsFor({});
      const rename = planCommand({ operation: 'rename', instanceId: 'i', from: 'a', to: 'b' }, settings);
      expect(rename.statements.find((s) => s.argv)!.argv).to.deep.equal([
        'rename',
        '--instance-id',
        'i',
        '--from',
        'a',
        '--to',
        'b',
      ]);
      const drop = planCommand({ operation: 'delete', instanceId: 'i', databaseName: 'a' }, settings);
      expect(drop.statements.find((s) => s.argv)!.argv).to.deep.equal([
        'delete',
        '--instance-id',
        'i',
        '--database',
        'a',
      ]);
      expect(drop.notes.join(' ')).to.match(/never handed to the command/);
    });
  });
});
