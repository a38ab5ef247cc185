import { expect } from 'chai';
import { ClientStore } from '../../api/auth/clients';
import { SCOPES } from '../../api/auth/scopes';
import { Stack, startStack } from '../support/stack';
import { saturateThreadPool } from '../support/thread-pool';
import { postToken } from '../support/token-requests';

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

describe('the gate in front of secret hashing', () => {
  let stack: Stack;
  const probe = { active: 0, peak: 0, started() { this.peak = Math.max(this.peak, ++this.active); }, finished() { this.active -= 1; } };
  before(async () => {
    stack = await startStack({ worker: false, env: { TOKEN_HASH_CONCURRENCY: '1', TOKEN_HASH_QUEUE: '2' }, hashGateProbe: probe });
  });
  after(async () => stack?.stop());

  it('answers 503 problem+json with Retry-After at once when its queue is full, and never hashes more than its cap at once', async function () {
    this.timeout(60_000);
    const client = await new ClientStore(stack.dataSource).create('gate-test', SCOPES.fullAccess);
    probe.peak = 0;
    // With the pool full, the one admitted hash cannot finish: 1 runs, 2 wait, the other 5 are refused.
    const pool = saturateThreadPool();
    try {
      const answers = await Promise.all(Array.from({ length: 8 }, async () => {
        const r = await postToken(stack.baseUrl, { grant_type: 'client_credentials', client_id: client.client_id, client_secret: 'wrong' });
        return { ...r, poolFinishedAt: pool.finished() };
      }));
      const refused = answers.filter((a) => a.status === 503);
      const checked = answers.filter((a) => a.status === 401);
      expect(answers.map((a) => a.status).sort()).to.deep.equal([401, 401, 401, 503, 503, 503, 503, 503]);
      for (const r of refused) {
        // Ordering, not timing: refused while every pool thread was still busy, so it never waited for a hash.
        expect(r.poolFinishedAt).to.equal(0);
        expect(r.headers['content-type']).to.match(/^application\/problem\+json/);
        expect(r.body).to.include({ status: 503, title: 'Service unavailable' });
        expect(r.headers['retry-after']).to.equal('1');
      }
      expect(checked.every((a) => a.body.error === 'invalid_client')).to.equal(true);
      expect(probe.peak, 'hashes at once').to.equal(1);
    } finally {
      await pool.done;
    }
    expect(probe.active).to.equal(0);
    // Once the flood has passed, the right secret works again.
    expect((await postToken(stack.baseUrl, { grant_type: 'client_credentials', client_id: client.client_id, client_secret: client.client_secret })).status).to.equal(200);
  });
});
