import { expect } from 'chai';
import { sleep } from '../../shared/retry';
import { type Stack, startStack } from '../support/stack';

/**
 * A burst of requests can use every connection of the API's admin-database pool. Waiting for one
 * to come free has its own bound (ADMIN_DATABASE_POOL_WAIT_MS), apart from the connect timeout:
 * before, pg's one timeout covered both, and a 3 s wait for the pool was answered 503 "The admin
 * database is unreachable" (30-51 of 100 POSTs in issue 13's burst benchmark).
 */
describe('admin-database pool: every connection in use', () => {
  /** A stack without workers whose admin pool has 2 connections, with these bounds (ms). */
  function withPool(connectTimeoutMs: number, poolWaitMs: number): () => Stack {
    let stack: Stack | undefined;
    before(async () => {
      stack = await startStack({
        worker: false,
        env: {
          ADMIN_DATABASE_POOL_SIZE: '2',
          ADMIN_DATABASE_CONNECT_TIMEOUT_MS: String(connectTimeoutMs),
          ADMIN_DATABASE_POOL_WAIT_MS: String(poolWaitMs),
        },
      });
    });
    after(async () => stack?.stop());
    return () => stack!;
  }

  /** Holds both connections of the stack's pool for `ms`. */
  const holdThePool = (stack: Stack, ms: number) =>
    Promise.all([1, 2].map(() => stack.dataSource.query(`SELECT pg_sleep(${ms / 1000})`)));

  describe('within ADMIN_DATABASE_POOL_WAIT_MS', () => {
    const theStack = withPool(300, 10_000);

    it('waits for a free connection, longer than the connect timeout, and answers', async () => {
      const stack = theStack();
      const held = holdThePool(stack, 1500);
      await sleep(200);
      const [list, create] = await Promise.all([
        stack.request('GET', '/admin/instances'),
        stack.request('POST', '/admin/instances', {
          body: { instanceName: 'Queued', databaseName: stack.db('queued') },
        }),
      ]);
      await held;
      expect(list.status).to.equal(200);
      expect(create.status).to.equal(201);
    });
  });

  describe('beyond ADMIN_DATABASE_POOL_WAIT_MS', () => {
    const theStack = withPool(3000, 300);

    it('answers 503 saying the API is too busy (not that the database is unreachable), with Retry-After, writing nothing', async () => {
      const stack = theStack();
      const held = holdThePool(stack, 1500);
      await sleep(200);
      const r = await stack.request('POST', '/admin/instances', {
        body: { instanceName: 'Refused', databaseName: stack.db('refused') },
      });
      await held;
      expect(r.status).to.equal(503);
      expect(r.headers.get('content-type')).to.match(/^application\/problem\+json/);
      expect(r.headers.get('retry-after')).to.equal('1');
      expect(r.body.detail).to.match(/too busy/);
      const [row] = await stack.dataSource.query<{ n: string }[]>('SELECT count(*) AS n FROM instances');
      expect(Number(row!.n)).to.equal(0);
    });
  });
});
