import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PermanentJobError } from '../../shared/errors';
import { retryTransient } from '../../shared/retry';
import { commandEngine } from '../../worker/engines/command';
import { parseCommandSettings } from '../../worker/engines/command/settings';
import { EngineDriver, ownershipMarker } from '../../worker/engines/engine';
import { CapturedLog } from '../support/log-capture';
import { databaseExists, dropDatabases, ownerOf, shapeOf, withServer } from '../support/ods-server';
import { POSTGRES_URL } from '../support/settings';
import { silentLogger } from '../../shared/logger';
import { ensureStandInTemplate } from '../../worker/templates/stand-in';
import { Stack, startStack } from '../support/stack';
import { waitFor } from '../support/wait';

/**
 * A provisioning script of the kind a shop would write: it parses the manager's arguments and
 * runs createdb/psql/dropdb against the real server. MODE (passed as ODS_COMMAND_ENV_MODE)
 * makes it misbehave in the ways the engine must survive. It records its arguments (NUL
 * separated, one file per run) and its environment in RECORD_DIR.
 */
const SCRIPT = String.raw`#!/bin/sh
set -u
printf '%s\0' "$@" > "$RECORD_DIR/argv.$(date +%s%N)"
env > "$RECORD_DIR/env.$$"
op=none
while [ $# -gt 0 ]; do
  case "$1" in create|rename|delete) op="$1"; shift; break ;; *) shift ;; esac
done
while [ $# -gt 1 ]; do
  case "$1" in
    --instance-id) id="$2" ;; --database) db="$2" ;; --template) tpl="$2" ;;
    --staging) staging="$2" ;; --from) from="$2" ;; --to) to="$2" ;;
  esac
  shift 2
done
case "$MODE" in
  nothing) echo "pretending to $op"; exit 0 ;;
  fail) echo "starting $op"; echo "error: template is locked by the nightly job" >&2; exit 3 ;;
  retry-once)
    if [ ! -e "$RECORD_DIR/retried" ]; then : > "$RECORD_DIR/retried"; echo "server busy, try later" >&2; exit 75; fi ;;
  sleep)
    trap '' TERM
    echo $$ > "$RECORD_DIR/script.pid"
    sleep 60 &
    echo $! > "$RECORD_DIR/child.pid"
    wait
    exit 0 ;;
  secrets)
    echo "connecting to postgres://admin:$PGPASSWORD@db.example/postgres as $PGUSER"
    echo "Host=db;Username=admin;Password=$PGPASSWORD;Database=x" >&2
    echo "using api token $API_TOKEN" >&2 ;;
esac
case "$op" in
  create)
    createdb -T "$tpl" "$staging" || exit 1
    if [ "$MODE" = mark-other ]; then psql -v ON_ERROR_STOP=1 -qc "COMMENT ON DATABASE \"$staging\" IS '$OTHER_MARKER'" || exit 1; fi
    psql -v ON_ERROR_STOP=1 -qc "ALTER DATABASE \"$staging\" RENAME TO \"$db\"" ;;
  rename) psql -v ON_ERROR_STOP=1 -qc "ALTER DATABASE \"$from\" RENAME TO \"$to\"" ;;
  delete) dropdb --force "$db" ;;
esac
`;

/** This suite's own template: createdb fails while another suite holds a session on a shared one. */
const TEMPLATE = 'odsim_test_template_command_v1';
const FIXED_ARGS = ['--profile', 'district one', '; rm -rf /', '$(touch pwned)'];
const SECRET = 'Sup3r-s3cret-pw';
const TOKEN = 'tok-4f9a8b7c6d5e';

/** A process still running (a zombie waiting to be reaped counts as gone). */
function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected the operation to fail');
}

describe('external command engine on PostgreSQL, with a real script', function () {
  this.timeout(60_000);
  let dir: string;
  let script: string;
  let record: string;
  let log: CapturedLog;
  const drivers: EngineDriver[] = [];
  const made: string[] = [];
  const server = new URL(POSTGRES_URL);

  before(async () => {
    await ensureStandInTemplate(POSTGRES_URL, TEMPLATE, { tables: 9, views: 2, rowsPerTable: 2 }, silentLogger());
    dir = mkdtempSync(join(tmpdir(), 'odsim-command-'));
    script = join(dir, 'provision.sh');
    writeFileSync(script, SCRIPT);
    chmodSync(script, 0o755);
  });
  after(() => dir && rmSync(dir, { recursive: true, force: true }));
  beforeEach(() => {
    record = mkdtempSync(join(dir, 'record-'));
    log = new CapturedLog('worker');
  });
  afterEach(async () => {
    await Promise.all(drivers.splice(0).map((d) => d.close()));
    await dropDatabases(made.splice(0));
  });

  /** The settings a worker would read, with the worker's own secrets in its environment. */
  function settingsWith(env: Record<string, string> = {}) {
    const { settings, problems } = parseCommandSettings({
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      ADMIN_DATABASE_URL: 'postgres://admin:admin-db-pass@127.0.0.1:5432/odsim',
      ODS_SERVER_URL: POSTGRES_URL,
      REDIS_URL: 'redis://127.0.0.1:6379',
      TOKEN_SIGNING_KEY: 'k'.repeat(40),
      ODS_COMMAND_PATH: script,
      ODS_COMMAND_ARGS: JSON.stringify(FIXED_ARGS),
      ODS_COMMAND_ENV_RECORD_DIR: record,
      ODS_COMMAND_ENV_MODE: 'work',
      ODS_COMMAND_ENV_PGHOST: server.hostname,
      ODS_COMMAND_ENV_PGPORT: server.port || '5432',
      ODS_COMMAND_ENV_PGUSER: decodeURIComponent(server.username) || 'postgres',
      ODS_COMMAND_ENV_PGDATABASE: 'postgres',
      ODS_COMMAND_ENV_PGPASSWORD: SECRET,
      ODS_COMMAND_ENV_API_TOKEN: TOKEN,
      ...env,
    });
    expect(problems).to.deep.equal([]);
    return settings;
  }

  function driver(env: Record<string, string> = {}): EngineDriver {
    const d = commandEngine.createDriver({
      serverUrl: POSTGRES_URL,
      settings: settingsWith(env),
      lockTimeoutMs: 5_000,
      poolSize: 2,
      log: log.logger,
    });
    drivers.push(d);
    return d;
  }

  /** As the worker does: transient errors are retried with backoff. */
  function retrying<T>(d: EngineDriver, op: () => Promise<T>): Promise<T> {
    return retryTransient(op, { attempts: 4, baseDelayMs: 50, maxDelayMs: 200, isTransient: (e) => d.isTransient(e) });
  }

  function names() {
    const id = randomUUID().replace(/-/g, '').slice(0, 10);
    const n = { db: `t_cmd_${id}`, renamed: `t_cmd_${id}_new`, staging: `odsim_staging_${id}` };
    made.push(n.db, n.renamed, n.staging);
    return n;
  }

  const createRequest = (instanceId: string, n: ReturnType<typeof names>) => ({
    instanceId,
    databaseName: n.db,
    templateDatabase: TEMPLATE,
    stagingName: n.staging,
  });
  const dropRequest = (instanceId: string, databaseName: string) => ({
    instanceId,
    databaseName,
    stagingNames: [],
    ownsNothing: false,
  });

  /** Every run's arguments, in order. */
  function recordedArgv(): string[][] {
    return readdirSync(record)
      .filter((f) => f.startsWith('argv.'))
      .sort()
      .map((f) => readFileSync(join(record, f), 'utf8').split('\0').slice(0, -1));
  }

  function recordedEnv(): Record<string, string> {
    const file = readdirSync(record).find((f) => f.startsWith('env.'));
    if (!file) throw new Error('the script recorded no environment');
    return Object.fromEntries(
      readFileSync(join(record, file), 'utf8')
        .split('\n')
        .filter((l) => l.includes('='))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
  }

  describe('lifecycle', () => {
    it('creates, renames and deletes through the script, the server checked after each step', async () => {
      const d = driver();
      const n = names();
      const instanceId = randomUUID();

      expect(await retrying(d, () => d.create(createRequest(instanceId, n)))).to.deep.equal({
        outcome: 'created',
        warnings: [],
      });
      expect(await databaseExists(n.db)).to.equal(true);
      expect(await databaseExists(n.staging)).to.equal(false);
      // The script made it; the manager marked it.
      expect(await ownerOf(n.db)).to.equal(instanceId);
      expect(await shapeOf(n.db)).to.deep.equal(await shapeOf(TEMPLATE));

      expect(await retrying(d, () => d.rename({ instanceId, from: n.db, to: n.renamed }))).to.deep.equal({
        outcome: 'renamed',
        warnings: [],
      });
      expect(await databaseExists(n.db)).to.equal(false);
      expect(await ownerOf(n.renamed)).to.equal(instanceId);

      expect(await retrying(d, () => d.drop(dropRequest(instanceId, n.renamed)))).to.deep.equal({
        outcome: 'dropped',
        warnings: [],
      });
      expect(await databaseExists(n.renamed)).to.equal(false);

      expect(recordedArgv()).to.deep.equal([
        [
          ...FIXED_ARGS,
          'create',
          '--instance-id',
          instanceId,
          '--database',
          n.db,
          '--template',
          TEMPLATE,
          '--staging',
          n.staging,
        ],
        [...FIXED_ARGS, 'rename', '--instance-id', instanceId, '--from', n.db, '--to', n.renamed],
        [...FIXED_ARGS, 'delete', '--instance-id', instanceId, '--database', n.renamed],
      ]);
      // "$(touch pwned)" reached the script as text: nothing ran it.
      expect(existsSync(join(record, 'pwned'))).to.equal(false);
      expect(existsSync('pwned')).to.equal(false);
      const started = log.events('command.started');
      expect(started.map((e) => e.operation)).to.deep.equal(['create', 'rename', 'delete']);
      expect(started[0]!.commandLine).to.include(`'; rm -rf /' '$(touch pwned)' create`);
      expect(log.events('command.finished').map((e) => e.exitCode)).to.deep.equal([0, 0, 0]);
    });

    it('does not run the script again when each step already happened', async () => {
      const d = driver();
      const n = names();
      const instanceId = randomUUID();
      await d.create(createRequest(instanceId, n));
      expect((await d.create(createRequest(instanceId, n))).outcome).to.equal('already-created');
      await d.rename({ instanceId, from: n.db, to: n.renamed });
      expect((await d.rename({ instanceId, from: n.db, to: n.renamed })).outcome).to.equal('already-renamed');
      await d.drop(dropRequest(instanceId, n.renamed));
      expect(await d.drop(dropRequest(instanceId, n.renamed))).to.deep.equal({
        outcome: 'already-absent',
        warnings: [],
      });
      expect(recordedArgv().map((argv) => argv[FIXED_ARGS.length])).to.deep.equal(['create', 'rename', 'delete']);
    });

    it('retries when the script exits 75 (EX_TEMPFAIL), then succeeds', async () => {
      const d = driver({ ODS_COMMAND_ENV_MODE: 'retry-once' });
      const n = names();
      const instanceId = randomUUID();
      const first = await rejection(d.create(createRequest(instanceId, n)));
      expect(d.isTransient(first)).to.equal(true);
      expect(first.message).to.match(/asked to be retried \(exit code 75\).*server busy, try later/);
      expect((await retrying(d, () => d.create(createRequest(instanceId, n)))).outcome).to.equal('created');
      expect(await ownerOf(n.db)).to.equal(instanceId);
    });
  });

  describe('adopt and release (docs/adopt-release.md)', () => {
    it('adopts an existing database and releases it through the verify engine, never running the script', async () => {
      const d = driver();
      const n = names();
      const instanceId = randomUUID();
      await withServer((c) => c.query(`CREATE DATABASE ${c.escapeIdentifier(n.db)}`));
      expect(await d.adopt({ instanceId, databaseName: n.db })).to.deep.equal({ outcome: 'adopted', warnings: [] });
      expect(await ownerOf(n.db)).to.equal(instanceId);
      expect(await d.adopt({ instanceId, databaseName: n.db })).to.deep.equal({
        outcome: 'already-adopted',
        warnings: [],
      });
      const other = await d.adopt({ instanceId: randomUUID(), databaseName: n.db }).catch((e: unknown) => e);
      expect(other).to.be.instanceOf(PermanentJobError);
      expect(await d.release({ instanceId, databaseName: n.db, ownsNothing: false })).to.deep.equal({
        outcome: 'released',
        warnings: [],
      });
      expect(await databaseExists(n.db)).to.equal(true);
      expect(await ownerOf(n.db)).to.equal(null);
      expect(recordedArgv()).to.deep.equal([]);
    });
  });

  describe('no false success', () => {
    it('refuses a create the script says it did but the server does not show', async () => {
      const d = driver({ ODS_COMMAND_ENV_MODE: 'nothing' });
      const n = names();
      const err = await rejection(retrying(d, () => d.create(createRequest(randomUUID(), n))));
      expect(err).to.be.instanceOf(PermanentJobError);
      expect(err.message).to.equal(
        `the command exited 0, but the server does not show database "${n.db}"; stdout: pretending to create`,
      );
      expect(recordedArgv()).to.have.lengthOf(1);
    });

    it('refuses a rename and a delete the server does not show', async () => {
      const n = names();
      const instanceId = randomUUID();
      await driver().create(createRequest(instanceId, n));
      const lazy = driver({ ODS_COMMAND_ENV_MODE: 'nothing' });
      const rename = await rejection(lazy.rename({ instanceId, from: n.db, to: n.renamed }));
      expect(rename.message).to.match(
        new RegExp(`^the command exited 0, but the server does not show database "${n.renamed}"`),
      );
      const drop = await rejection(lazy.drop(dropRequest(instanceId, n.db)));
      expect(drop).to.be.instanceOf(PermanentJobError);
      expect(drop.message).to.match(new RegExp(`^the command exited 0, but the server still shows database "${n.db}"`));
      expect(await ownerOf(n.db)).to.equal(instanceId);
    });

    it('fails with the exit code and the end of stderr when the script fails', async () => {
      const d = driver({ ODS_COMMAND_ENV_MODE: 'fail' });
      const n = names();
      const err = await rejection(retrying(d, () => d.create(createRequest(randomUUID(), n))));
      expect(err).to.be.instanceOf(PermanentJobError);
      expect(d.isTransient(err)).to.equal(false);
      expect(err.message).to.match(
        /^the command \(create\) exited with code 3 after \d+\.\d s; stderr: error: template is locked by the nightly job$/,
      );
      expect(recordedArgv()).to.have.lengthOf(1);
      const [finished] = log.events('command.finished');
      expect(finished).to.include({ level: 'warn', exitCode: 3, stdout: 'starting create\n' });
    });

    it('ends a script that runs past the timeout, with every process of its group', async () => {
      const d = driver({
        ODS_COMMAND_ENV_MODE: 'sleep',
        ODS_COMMAND_TIMEOUT_MS: '1000',
        ODS_COMMAND_KILL_GRACE_MS: '300',
      });
      const n = names();
      const started = Date.now();
      const err = await rejection(d.create(createRequest(randomUUID(), n)));
      expect(Date.now() - started).to.be.lessThan(10_000);
      expect(err).to.be.instanceOf(PermanentJobError);
      expect(d.isTransient(err)).to.equal(false);
      expect(err.message).to.match(/^the command \(create\) did not finish within 1000 ms and was ended/);
      const scriptPid = Number(readFileSync(join(record, 'script.pid'), 'utf8'));
      const childPid = Number(readFileSync(join(record, 'child.pid'), 'utf8'));
      // The script ignored SIGTERM (and so did its child): SIGKILL to the group ended both.
      await waitFor(
        async () => !running(scriptPid) && !running(childPid),
        'the script and its child to be gone',
        5_000,
      );
      expect(log.events('command.finished')[0]).to.include({ timedOut: true, signal: 'SIGKILL' });
    });

    it('retries a timeout only when told to', async () => {
      const d = driver({
        ODS_COMMAND_ENV_MODE: 'sleep',
        ODS_COMMAND_TIMEOUT_MS: '300',
        ODS_COMMAND_KILL_GRACE_MS: '100',
        ODS_COMMAND_TIMEOUT_RETRY: 'true',
      });
      const err = await rejection(d.create(createRequest(randomUUID(), names())));
      expect(d.isTransient(err)).to.equal(true);
    });
  });

  describe('never clobber', () => {
    it('refuses to create onto a database it does not own, without running the script', async () => {
      const d = driver();
      const unmarked = names();
      const other = names();
      await withServer(async (c) => {
        await c.query(`CREATE DATABASE "${unmarked.db}"`);
        await c.query(`CREATE DATABASE "${other.db}"`);
        await c.query(`COMMENT ON DATABASE "${other.db}" IS '${ownershipMarker(randomUUID())}'`);
      });
      const refusedUnmarked = await rejection(retrying(d, () => d.create(createRequest(randomUUID(), unmarked))));
      expect(refusedUnmarked).to.be.instanceOf(PermanentJobError);
      expect(refusedUnmarked.message).to.equal(
        `refusing to create database "${unmarked.db}": it is not managed by ODS Instance Manager; it was left untouched (the command was not run)`,
      );
      const refusedOther = await rejection(retrying(d, () => d.create(createRequest(randomUUID(), other))));
      expect(refusedOther.message).to.match(/^refusing to create database ".*": it belongs to instance .*not run\)$/);
      expect(recordedArgv()).to.deep.equal([]);
      expect(await ownerOf(unmarked.db)).to.equal(null);
    });

    it('refuses to hand a database without its marker to the delete script', async () => {
      const n = names();
      const d = driver();
      const owner = randomUUID();
      await d.create(createRequest(owner, n));
      const before = recordedArgv().length;
      const err = await rejection(d.drop(dropRequest(randomUUID(), n.db)));
      expect(err.message).to.match(/^refusing to drop database ".*": it belongs to instance/);
      expect(recordedArgv()).to.have.lengthOf(before);
      expect(await ownerOf(n.db)).to.equal(owner);
    });

    it('refuses to mark a database the script left carrying another instance’s marker', async () => {
      const other = randomUUID();
      const d = driver({ ODS_COMMAND_ENV_MODE: 'mark-other', ODS_COMMAND_ENV_OTHER_MARKER: ownershipMarker(other) });
      const n = names();
      const err = await rejection(d.create(createRequest(randomUUID(), n)));
      expect(err).to.be.instanceOf(PermanentJobError);
      expect(err.message).to.include(`carries the ownership marker of instance ${other}; refusing to mark it`);
      expect(await ownerOf(n.db)).to.equal(other);
    });
  });

  describe('secrets', () => {
    it('masks what the script prints in the warnings and the log, and gives it none of the worker’s own', async () => {
      const d = driver({ ODS_COMMAND_ENV_MODE: 'secrets' });
      const n = names();
      const result = await d.create(createRequest(randomUUID(), n));
      expect(result.outcome).to.equal('created');
      expect(result.warnings).to.deep.equal([
        'the command wrote to stderr: Host=db;Username=admin;Password=***;Database=x\nusing api token ***',
      ]);
      const finished = log.events('command.finished')[0]!;
      expect(finished.stdout).to.equal('connecting to postgres://admin:***@db.example/postgres as postgres\n');
      const everything = JSON.stringify(log.lines) + JSON.stringify(result);
      expect(everything).to.not.include(SECRET);
      expect(everything).to.not.include(TOKEN);

      const env = recordedEnv();
      for (const name of ['ADMIN_DATABASE_URL', 'ODS_SERVER_URL', 'REDIS_URL', 'TOKEN_SIGNING_KEY', 'ODS_COMMAND_PATH'])
        expect(env, name).to.not.have.property(name);
      expect(Object.keys(env).filter((k) => k.startsWith('ODS_'))).to.deep.equal([]);
      expect(env).to.include({ PGPASSWORD: SECRET, MODE: 'secrets', RECORD_DIR: record, PATH: process.env.PATH });
    });

    it('masks the output quoted in a failure', async () => {
      const d = driver({ ODS_COMMAND_ENV_MODE: 'secrets', ODS_COMMAND_ENV_PGDATABASE: 'no_such_database_here' });
      const n = names();
      const err = await rejection(d.create(createRequest(randomUUID(), n)));
      expect(err.message).to.match(
        /^the command \(create\) exited with code 2 .*database "no_such_database_here" does not exist/s,
      );
      expect(err.message).to.include('Password=***');
      expect(err.message).to.not.include(SECRET);
      expect(err.message).to.not.include(TOKEN);
    });
  });

  describe('through the API and a worker (ODS_ENGINE=command)', () => {
    let stack: Stack | undefined;
    afterEach(async () => {
      await stack?.stop();
      stack = undefined;
    });

    it('creates and deletes an instance, the job telling what the script wrote to stderr', async () => {
      stack = await startStack({
        env: {
          ODS_ENGINE: 'command',
          ODS_COMMAND_PATH: script,
          ODS_COMMAND_ENV_RECORD_DIR: record,
          ODS_COMMAND_ENV_MODE: 'secrets',
          ODS_COMMAND_ENV_PGHOST: server.hostname,
          ODS_COMMAND_ENV_PGPORT: server.port || '5432',
          ODS_COMMAND_ENV_PGUSER: decodeURIComponent(server.username) || 'postgres',
          ODS_COMMAND_ENV_PGDATABASE: 'postgres',
          ODS_COMMAND_ENV_PGPASSWORD: SECRET,
          ODS_COMMAND_ENV_API_TOKEN: TOKEN,
          ODS_COMMAND_ENV_PATH: process.env.PATH ?? '/usr/bin:/bin',
          ODS_TEMPLATE_DATABASE: TEMPLATE,
        },
      });
      const instance = await stack.createInstance('cmd');
      expect(instance.engine).to.equal('command');
      expect(await ownerOf(instance.databaseName)).to.equal(instance.id);
      const job = await stack.request('GET', `/admin/jobs/${instance.job.id}`);
      expect(job.body).to.include({ status: 'succeeded', error: null });
      expect(job.body.warnings).to.deep.equal([
        'the command wrote to stderr: Host=db;Username=admin;Password=***;Database=x\nusing api token ***',
      ]);

      const deleted = await stack.request('DELETE', `/admin/instances/${instance.id}`);
      expect(deleted.status).to.equal(200);
      await stack.waitForStatus(instance.id, 'Deleted');
      expect(await databaseExists(instance.databaseName)).to.equal(false);
      expect(recordedArgv().map((argv) => argv[0])).to.deep.equal(['create', 'delete']);
    });
  });
});
