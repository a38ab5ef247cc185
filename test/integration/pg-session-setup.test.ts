import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { POSTGRES_URL } from '../support/settings';

const run = promisify(execFile);

/**
 * The PostgreSQL driver's pooled sessions are set up (SESSION_SETUP) before the pool hands them
 * out. Sent from the pool's 'connect' event instead, the setup was still queued when `pool.query`
 * (the survey's way) sent its statement on the new session: two statements queued on one client,
 * which pg 8 warns about (a DeprecationWarning, once per process, so this runs in a process of its
 * own) and pg 9 will refuse.
 */
describe('PostgreSQL driver sessions', () => {
  it('are set up before the pool hands them out, so pool.query never queues behind the setup', async () => {
    const driverModule = join(__dirname, '../../worker/engines/postgres/driver.js');
    const loggerModule = join(__dirname, '../../shared/logger.js');
    const script = `
      const { PostgresDriver } = require(${JSON.stringify(driverModule)});
      const { silentLogger } = require(${JSON.stringify(loggerModule)});
      (async () => {
        const driver = new PostgresDriver({ serverUrl: process.env.SERVER_URL, log: silentLogger(), poolSize: 2 });
        const first = await driver.pool.query('SELECT current_setting($1, true) AS interval', ['client_connection_check_interval']);
        await driver.close();
        console.log(JSON.stringify({ interval: first.rows[0].interval }));
      })().catch((err) => { console.error(err); process.exit(1); });`;
    const { stdout, stderr } = await run(process.execPath, ['-e', script], {
      env: { ...process.env, SERVER_URL: POSTGRES_URL },
      timeout: 30_000,
    });
    expect(stderr, 'no warning from pg').not.to.match(/DeprecationWarning|already executing a query/);
    const result = JSON.parse(stdout.trim().split('\n').at(-1)!) as { interval: string };
    // PostgreSQL 14+ takes the setting (the machine's server is 15); older ones refuse it, and it is ignored.
    expect(result.interval).to.equal('2s');
  });
});
