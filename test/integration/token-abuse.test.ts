import { expect } from 'chai';
import { Stack, startStack } from '../support/stack';
import { saturateThreadPool } from '../support/thread-pool';

describe('token endpoint abuse does not stall authenticated traffic', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ worker: false });
  });
  after(async () => stack?.stop());

  it('answers an authenticated GET /admin/instances and GET /health/live while libuv\'s thread pool is full of hashing', async function () {
    this.timeout(60_000);
    const pool = saturateThreadPool();
    try {
      const list = await stack.request('GET', '/admin/instances');
      const live = await stack.request('GET', '/health/live', { token: null });
      // Ordering, not timing: both answered while every pool thread was still busy.
      expect(pool.finished(), 'thread-pool work finished before the requests were answered').to.equal(0);
      expect(list.status, JSON.stringify(list.body)).to.equal(200);
      expect(live.status).to.equal(200);
    } finally {
      await pool.done;
    }
  });
});
