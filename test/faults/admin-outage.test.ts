import { expect } from 'chai';
import { JobEntity } from '../../shared/database/entities';
import { silentLogger } from '../../shared/logger';
import { PostgresDriver } from '../../worker/engines/postgres/driver';
import { expectServerMatchesRecords } from '../support/consistency';
import { ownerOf } from '../support/ods-server';
import { POSTGRES_URL } from '../support/settings';
import { Stack, startStack } from '../support/stack';
import { TcpProxy } from '../support/tcp-proxy';
import { waitFor } from '../support/wait';

/*
 * The admin database goes away at the worst moment: the database has just been cloned,
 * marked and renamed, and the worker has yet to record it. The outcome must not be lost.
 */
describe('an admin database outage', function () {
  this.timeout(120_000);
  let proxy: TcpProxy;
  let stack: Stack;

  before(async () => {
    proxy = await new TcpProxy(Number(new URL(POSTGRES_URL).port || 5432)).start();
    stack = await startStack({
      worker: false,
      env: { ADMIN_DATABASE_QUERY_TIMEOUT_MS: '1500' },
      adminDatabaseUrl: (url) => {
        const u = new URL(url);
        u.port = String(proxy.port);
        return u.toString();
      },
    });
  });
  after(async () => {
    proxy.restore();
    await stack.stop();
    await proxy.stop();
  });

  it('answers 503 quickly while it lasts, and the worker records the outcome of work it already did', async () => {
    let outageStarted = 0;
    const driver = new PostgresDriver({
      serverUrl: POSTGRES_URL,
      log: silentLogger(),
      onStep: async (step) => {
        if (step !== 'create.renamed') return;
        proxy.cutOff();
        outageStarted = Date.now();
        setTimeout(() => proxy.restore(), 4000);
      },
    });
    await stack.startWorker({}, driver);
    const name = stack.db('outage');
    const r = await stack.request('POST', '/admin/instances', {
      body: { instanceName: `Outage ${stack.id}`, databaseName: name },
    });
    expect(r.status).to.equal(201);

    // During the outage, the API fails fast with problem+json.
    while (!outageStarted) await new Promise((resolve) => setTimeout(resolve, 20));
    const started = Date.now();
    const during = await stack.request('GET', `/admin/instances/${r.body.id}`);
    expect(during.status).to.equal(503);
    expect(during.headers.get('content-type')).to.match(/^application\/problem\+json/);
    expect(Date.now() - started).to.be.below(3500);

    const done = await stack.waitForStatus(r.body.id, 'Created', 60_000);
    expect(done.lastError).to.equal(null);
    expect(await ownerOf(name)).to.equal(r.body.id);
    const job = await stack.dataSource.getRepository(JobEntity).findOneByOrFail({ id: r.body.job.id });
    expect(job.status).to.equal('succeeded');
    await expectServerMatchesRecords(stack);
  });

  it('answers 503 within the query timeout when the admin database silently stops answering, and recovers', async () => {
    expect((await stack.request('GET', '/admin/instances')).status).to.equal(200);
    proxy.freeze();
    try {
      const started = Date.now();
      const during = await stack.request('GET', '/admin/instances');
      expect(during.status).to.equal(503);
      expect(during.headers.get('content-type')).to.match(/^application\/problem\+json/);
      expect(Date.now() - started).to.be.below(5000);
    } finally {
      proxy.restore();
    }
    await waitFor(
      async () => (await stack.request('GET', '/admin/instances')).status === 200,
      'the API to recover',
      30_000,
    );
  });
});
