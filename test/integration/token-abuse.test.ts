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

  it("answers an authenticated GET /admin/instances and GET /health/live while libuv's thread pool is full of hashing", async function () {
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
  const probe = {
    active: 0,
    peak: 0,
    started() {
      this.peak = Math.max(this.peak, ++this.active);
    },
    finished() {
      this.active -= 1;
    },
  };
  before(async () => {
    stack = await startStack({
      worker: false,
      env: { TOKEN_HASH_CONCURRENCY: '1', TOKEN_HASH_QUEUE: '2' },
      hashGateProbe: probe,
    });
  });
  after(async () => stack?.stop());

  it('answers 503 problem+json with Retry-After at once when its queue is full, and never hashes more than its cap at once', async function () {
    this.timeout(60_000);
    const client = await new ClientStore(stack.dataSource).create('gate-test', SCOPES.fullAccess);
    probe.peak = 0;
    // With the pool full, the one admitted hash cannot finish: 1 runs, 2 wait, the other 5 are refused.
    const pool = saturateThreadPool();
    try {
      const answers = await Promise.all(
        Array.from({ length: 8 }, async () => {
          const r = await postToken(stack.baseUrl, {
            grant_type: 'client_credentials',
            client_id: client.client_id,
            client_secret: 'wrong',
          });
          return { ...r, poolFinishedAt: pool.finished() };
        }),
      );
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
    expect(
      (
        await postToken(stack.baseUrl, {
          grant_type: 'client_credentials',
          client_id: client.client_id,
          client_secret: client.client_secret,
        })
      ).status,
    ).to.equal(200);
  });
});

describe('token rate limits shared through Redis', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({
      worker: false,
      env: { TOKEN_RATE_LIMIT_PER_MINUTE: '4', TOKEN_RATE_LIMIT_PER_CLIENT_PER_MINUTE: '3' },
    });
  });
  after(async () => stack?.stop());

  it('counts one source address across two API processes of the deployment: 429 after the shared limit', async () => {
    const other = await stack.startAnotherApi();
    const client = await new ClientStore(stack.dataSource).create('shared-limit', SCOPES.fullAccess);
    const ask = (baseUrl: string) =>
      postToken(
        baseUrl,
        { grant_type: 'client_credentials', client_id: client.client_id, client_secret: client.client_secret },
        '127.0.3.1',
      );
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await ask(stack.baseUrl)).status, (await ask(other)).status);
    expect(statuses).to.deep.equal([200, 200, 200, 200, 429, 429]);
    const refused = await ask(other);
    expect(refused.status).to.equal(429);
    expect(refused.headers['content-type']).to.match(/^application\/problem\+json/);
    expect(Number(refused.headers['retry-after'])).to.be.within(1, 60);
    // Another address still has its own budget.
    expect(
      (
        await postToken(
          other,
          { grant_type: 'client_credentials', client_id: client.client_id, client_secret: client.client_secret },
          '127.0.3.2',
        )
      ).status,
    ).to.equal(200);
  });

  it('limits failed attempts per client_id across source addresses, and only for that client', async () => {
    const clients = new ClientStore(stack.dataSource);
    const target = await clients.create('guessed', SCOPES.fullAccess);
    const bystander = await clients.create('bystander', SCOPES.fullAccess);
    const guess = (n: number) =>
      postToken(
        stack.baseUrl,
        { grant_type: 'client_credentials', client_id: target.client_id, client_secret: `guess-${n}` },
        `127.0.2.${n}`,
      );
    expect([(await guess(1)).status, (await guess(2)).status, (await guess(3)).status]).to.deep.equal([401, 401, 401]);
    const limited = await guess(4);
    expect(limited.status).to.equal(429);
    expect(limited.headers['content-type']).to.match(/^application\/problem\+json/);
    expect(Number(limited.headers['retry-after'])).to.be.within(1, 60);
    // Locked for the window: the right secret too, from a fresh address (it cannot be told apart without hashing).
    expect(
      (
        await postToken(
          stack.baseUrl,
          { grant_type: 'client_credentials', client_id: target.client_id, client_secret: target.client_secret },
          '127.0.2.5',
        )
      ).status,
    ).to.equal(429);
    // Another client id from the same addresses is not affected.
    expect(
      (
        await postToken(
          stack.baseUrl,
          { grant_type: 'client_credentials', client_id: bystander.client_id, client_secret: bystander.client_secret },
          '127.0.2.1',
        )
      ).status,
    ).to.equal(200);
  });

  it('does not count successful token requests against the client', async () => {
    const client = await new ClientStore(stack.dataSource).create('busy', SCOPES.fullAccess);
    const statuses = [];
    for (let n = 1; n <= 4; n++) {
      statuses.push(
        (
          await postToken(
            stack.baseUrl,
            { grant_type: 'client_credentials', client_id: client.client_id, client_secret: client.client_secret },
            `127.0.5.${n}`,
          )
        ).status,
      );
    }
    expect(statuses).to.deep.equal([200, 200, 200, 200]);
  });
});

describe('token rate limits while Redis is unreachable', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({
      worker: false,
      env: { REDIS_URL: 'redis://127.0.0.1:1', TOKEN_RATE_LIMIT_PER_MINUTE: '3' },
    });
  });
  after(async () => stack?.stop());

  it('falls back to a limit kept in the process: tokens are still issued, and refused past the limit', async () => {
    const client = await new ClientStore(stack.dataSource).create('no-redis', SCOPES.fullAccess);
    const statuses = [];
    for (let i = 0; i < 4; i++) {
      statuses.push(
        (
          await postToken(
            stack.baseUrl,
            { grant_type: 'client_credentials', client_id: client.client_id, client_secret: client.client_secret },
            '127.0.4.1',
          )
        ).status,
      );
    }
    expect(statuses).to.deep.equal([200, 200, 200, 429]);
  });
});
