import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { stagingDatabaseName } from '../../shared/database-names';
import { silentLogger } from '../../shared/logger';
import type { EngineDriver } from '../../worker/engines/engine';
import { postgresEngine } from '../../worker/engines/postgres';
import { dropDatabases, withServer } from '../support/ods-server';
import { POSTGRES_URL, SMALL_TEMPLATE } from '../support/settings';
import { StatementLog } from '../support/statement-log';
import { ensureTestTemplates } from '../support/templates';

/** The worker's PostgreSQL driver as worker/main.ts builds it (postgresEngine.createDriver), on the machine's server. */
describe('PostgreSQL copy strategy by template size, on the real server', function () {
  this.timeout(60_000);
  const log = new StatementLog();
  const drivers: EngineDriver[] = [];
  const made: string[] = [];
  let major = 0;
  let templateMb = 0;

  before(async () => {
    await ensureTestTemplates();
    const facts = await withServer(async (c) => {
      const r = await c.query<{ v: string; bytes: string }>(
        "SELECT current_setting('server_version_num') AS v, pg_database_size($1)::text AS bytes",
        [SMALL_TEMPLATE],
      );
      return r.rows[0]!;
    });
    major = Math.floor(Number(facts.v) / 10000);
    templateMb = Number(facts.bytes) / (1024 * 1024);
  });
  afterEach(async () => {
    log.stop();
    log.clear();
    await Promise.all(drivers.splice(0).map((d) => d.close()));
    await dropDatabases(made.splice(0));
  });

  function driverWith(env: NodeJS.ProcessEnv): EngineDriver {
    const { settings, problems } = postgresEngine.parseSettings(env);
    expect(problems).to.deep.equal([]);
    const d = postgresEngine.createDriver({
      serverUrl: POSTGRES_URL,
      settings,
      lockTimeoutMs: 5000,
      poolSize: 2,
      log: silentLogger(),
    });
    drivers.push(d);
    return d;
  }

  /** Creates one instance from the small template; the CREATE DATABASE statements and size looks it sent. */
  async function create(d: EngineDriver): Promise<{ creates: string[]; sizeLooks: string[] }> {
    const id = randomUUID();
    const databaseName = `t_strategy_${id.slice(0, 8)}`;
    const stagingName = stagingDatabaseName(randomUUID());
    made.push(databaseName, stagingName);
    log.start();
    try {
      expect(
        (await d.create({ instanceId: id, databaseName, templateDatabase: SMALL_TEMPLATE, stagingName })).outcome,
      ).to.equal('created');
    } finally {
      log.stop();
    }
    const result = { creates: log.matching(/^CREATE DATABASE/), sizeLooks: log.matching(/pg_database_size/) };
    log.clear();
    return result;
  }

  it('copies with FILE_COPY a template at or above ODS_PG_FILE_COPY_ABOVE_MB, reading its size once', async function () {
    if (major < 15) this.skip();
    const d = driverWith({ ODS_PG_FILE_COPY_ABOVE_MB: String(Math.max(1, Math.floor(templateMb))) });
    const first = await create(d);
    expect(first.creates).to.have.length(1);
    expect(first.creates[0]).to.match(/ STRATEGY = FILE_COPY$/);
    expect(first.sizeLooks).to.have.length(1);
    // The size is kept: the next copy of the same template does not ask again.
    const second = await create(d);
    expect(second.creates[0]).to.match(/ STRATEGY = FILE_COPY$/);
    expect(second.sizeLooks).to.deep.equal([]);
  });

  it('copies with WAL_LOG a template below the threshold', async function () {
    if (major < 15) this.skip();
    const { creates } = await create(driverWith({ ODS_PG_FILE_COPY_ABOVE_MB: String(Math.ceil(templateMb) + 1000) }));
    expect(creates[0]).to.match(/ STRATEGY = WAL_LOG$/);
  });

  it('sends the strategy that is set, without looking at the size, whatever the threshold', async function () {
    if (major < 15) this.skip();
    const { creates, sizeLooks } = await create(
      driverWith({ ODS_PG_CREATE_STRATEGY: 'wal_log', ODS_PG_FILE_COPY_ABOVE_MB: '1' }),
    );
    expect(creates[0]).to.match(/ STRATEGY = WAL_LOG$/);
    expect(sizeLooks).to.deep.equal([]);
  });

  it("sends no STRATEGY clause with the rule off (the server's default)", async () => {
    const { creates, sizeLooks } = await create(driverWith({ ODS_PG_FILE_COPY_ABOVE_MB: 'off' }));
    expect(creates[0]).to.not.match(/STRATEGY/);
    expect(sizeLooks).to.deep.equal([]);
  });
});
