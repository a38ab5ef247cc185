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
  /** Holds every connection of the stack's pool (its size: 2) for `ms`. */
  const holdThePool = (stack: Stack, ms: number) =>
    Promise.all([1, 2].map(() => stack.dataSource.query(`SELECT pg_sleep(${ms / 1000})`)));

  describe('within ADMIN_DATABASE_POOL_WAIT_MS', () => {
    let stack: Stack;
    before(async () => {
      stack = await startStack({
        worker: false,
        env: {
          ADMIN_DATABASE_POOL_SIZE: '2',
          ADMIN_DATABASE_CONNECT_TIMEOUT_MS: '300',
          ADMIN_DATABASE_POOL_WAIT_MS: '10000',
        },
      });
    });
    after(async () => stack?.stop());

    it('waits for a free connection, longer than the connect timeout, and answers', async () => {
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
    let stack: Stack;
    before(async () => {
      stack = await startStack({
        worker: false,
        env: {
          ADMIN_DATABASE_POOL_SIZE: '2',
          ADMIN_DATABASE_CONNECT_TIMEOUT_MS: '3000',
          ADMIN_DATABASE_POOL_WAIT_MS: '300',
        },
      });
    });
    after(async () => stack?.stop());

    it('answers 503 saying the API is too busy (not that the database is unreachable), with Retry-After, writing nothing', async () => {
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
