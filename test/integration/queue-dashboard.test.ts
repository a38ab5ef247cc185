import { expect } from 'chai';
import type { Client } from 'pg';
import { ClientStore } from '../../api/auth/clients';
import { SCOPES } from '../../api/auth/scopes';
import { TokenService } from '../../api/auth/tokens';
import { NO_WORKER_WARNING, PAUSED_WARNING } from '../../api/dashboard/queue-status';
import { AuditEventEntity, JobEntity } from '../../shared/database/entities';
import { createQueue, queueName, redisConnection } from '../../shared/jobs/queue';
import { expectServerMatchesRecords } from '../support/consistency';
import { connectTo } from '../support/ods-server';
import { REDIS_URL } from '../support/settings';
import { type Stack, startStack, type WorkerHandle } from '../support/stack';
import { TcpProxy } from '../support/tcp-proxy';
import { waitFor } from '../support/wait';

interface BoardRequest {
  token?: string;
  cookie?: string;
  origin?: string;
  accept?: string;
  body?: unknown;
}

/**
 * bull-board's own routes, by raw HTTP: its answers are its own JSON, not this API's
 * problem+json, so they are outside the OpenAPI contract that stack.request checks.
 */
async function board(stack: Stack, method: string, path: string, options: BoardRequest = {}) {
  const headers: Record<string, string> = { accept: options.accept ?? 'application/json' };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.cookie) headers.cookie = options.cookie;
  if (options.origin) headers.origin = options.origin;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const r = await fetch(`${stack.baseUrl}/admin/queues${path}`, {
    method,
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    redirect: 'manual',
  });
  const text = await r.text();
  const body: any = /json/.test(r.headers.get('content-type') ?? '') && text ? JSON.parse(text) : text;
  return { status: r.status, headers: r.headers, body };
}

/** POST /admin/queues/session with `token`; returns the cookie to send back, as a browser would. */
async function signIn(stack: Stack, token: string): Promise<string> {
  const r = await stack.request('POST', '/admin/queues/session', { token });
  expect(r.status, JSON.stringify(r.body)).to.equal(204);
  return r.headers.get('set-cookie')!.split(';')[0]!;
}

function expectProblem(r: { status: number; headers: Headers }, status: number): void {
  expect(r.status).to.equal(status);
  expect(r.headers.get('content-type')).to.match(/^application\/problem\+json/);
}

const q = (stack: Stack) => encodeURIComponent(queueName(stack.deploymentId));

describe('the queue dashboard (bull-board at /admin/queues)', () => {
  let stack: Stack;
  let cookie: string;
  let readCookie: string;
  before(async () => {
    stack = await startStack({ worker: false, env: { TOKEN_CLIENT_CHECK_CACHE_MS: '200' } });
    cookie = await signIn(stack, stack.tokens.full);
    readCookie = await signIn(stack, stack.tokens.read);
  });
  after(async () => stack.stop());
  afterEach(async () => {
    await board(stack, 'PUT', `/api/queues/${q(stack)}/resume`, { token: stack.tokens.full });
  });

  const isPaused = async () => (await stack.request('GET', '/admin/queue')).body.paused as boolean;

  describe('authentication', () => {
    it('sends a browser without a session to the sign-in page, and answers a script 401 problem+json', async () => {
      const page = await board(stack, 'GET', '/', { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' });
      expect(page.status).to.equal(302);
      expect(page.headers.get('location')).to.equal('/');
      expectProblem(await board(stack, 'GET', '/api/queues'), 401);
      expectProblem(await board(stack, 'PUT', `/api/queues/${q(stack)}/pause`), 401);
      expect(await isPaused()).to.equal(false);
    });

    it('serves the page, its assets and its API to a bearer token', async () => {
      const page = await board(stack, 'GET', '/', { token: stack.tokens.full, accept: 'text/html' });
      expect(page.status).to.equal(200);
      expect(page.body).to.include('<title>ODS Instance Manager</title>').and.include('<base href="/admin/queues/"');
      const script = /src="(static\/js\/main[^"]+)"/.exec(page.body)![1]!;
      expect((await board(stack, 'GET', `/${script}`, { token: stack.tokens.full })).status).to.equal(200);
      const api = await board(stack, 'GET', '/api/queues', { token: stack.tokens.full });
      expect(api.status).to.equal(200);
      expect(api.body.queues.map((x: { name: string }) => x.name)).to.deep.equal([queueName(stack.deploymentId)]);
    });

    it('trades a bearer token for an HttpOnly, SameSite=Strict cookie on /admin/queues that lives as long as the token', async () => {
      const r = await stack.request('POST', '/admin/queues/session');
      expect(r.status).to.equal(204);
      const setCookie = r.headers.get('set-cookie')!;
      const [pair, ...attributes] = setCookie.split(/;\s*/);
      expect(pair).to.equal(`odsim_board=${stack.tokens.full}`);
      expect(attributes).to.include.members(['HttpOnly', 'SameSite=Strict', 'Path=/admin/queues']);
      expect(attributes).not.to.include('Secure'); // plain HTTP here; `Secure` when req.secure
      const maxAge = Number(attributes.find((a) => a.startsWith('Max-Age='))!.slice(8));
      expect(maxAge).to.be.within(stack.apiConfig.tokens.ttlSeconds - 60, stack.apiConfig.tokens.ttlSeconds);

      const page = await board(stack, 'GET', '/', { cookie, accept: 'text/html' });
      expect(page.status).to.equal(200);
      expect((await board(stack, 'GET', '/api/queues', { cookie })).status).to.equal(200);
      expect((await board(stack, 'GET', '/static/favicon-32x32.png', { cookie })).status).to.equal(200);
    });

    it('takes a session only from a bearer header with a valid token, never from the cookie itself', async () => {
      expectProblem(await stack.request('POST', '/admin/queues/session', { token: null }), 401);
      expectProblem(await stack.request('POST', '/admin/queues/session', { token: null, headers: { cookie } }), 401);
      expectProblem(await stack.request('POST', '/admin/queues/session', { token: 'not.a.token' }), 401);
      const get = await stack.request('GET', '/admin/queues/session');
      expectProblem(get, 405);
      expect(get.headers.get('allow')).to.equal('POST, DELETE');
    });

    it('refuses an expired, forged or another signer’s token in the cookie', async () => {
      const signer = (key: string) =>
        new TokenService(key, { ...stack.apiConfig.tokens, deploymentId: stack.deploymentId });
      const principal = { clientId: 'x', scopes: [SCOPES.fullAccess] };
      const expired = signer(stack.apiConfig.tokens.signingKey!).issue(principal, -60).access_token;
      const foreign = signer('k'.repeat(64)).issue(principal).access_token;
      const tampered = `${stack.tokens.full.slice(0, -4)}AAAA`;
      for (const token of [expired, foreign, tampered, 'garbage']) {
        expectProblem(await board(stack, 'GET', '/api/queues', { cookie: `odsim_board=${token}` }), 401);
        const page = await board(stack, 'GET', '/', { cookie: `odsim_board=${token}`, accept: 'text/html' });
        expect(page.status, token).to.equal(302);
      }
    });

    it('refuses the cookie of a client disabled since it signed in', async () => {
      const clients = new ClientStore(stack.dataSource);
      const client = await clients.create('board-disabled', SCOPES.fullAccess);
      const session = await signIn(stack, await stack.token(client));
      expect((await board(stack, 'GET', '/api/queues', { cookie: session })).status).to.equal(200);
      await clients.disable(client.client_id);
      await waitFor(
        async () => (await board(stack, 'GET', '/api/queues', { cookie: session })).status === 401,
        'the disabled client’s cookie to be refused',
        5000,
      );
      const pause = await board(stack, 'PUT', `/api/queues/${q(stack)}/pause`, {
        cookie: session,
        origin: stack.baseUrl,
      });
      expectProblem(pause, 401);
      expect(await isPaused()).to.equal(false);
    });

    it('clears the cookie on DELETE /admin/queues/session, without needing a token', async () => {
      const r = await stack.request('DELETE', '/admin/queues/session', { token: null });
      expect(r.status).to.equal(204);
      const setCookie = r.headers.get('set-cookie')!;
      expect(setCookie).to.match(/^odsim_board=;/);
      expect(setCookie)
        .to.include('Path=/admin/queues')
        .and.match(/Expires=Thu, 01 Jan 1970/);
    });
  });

  describe('cross-site request forgery', () => {
    it('refuses a cookie-authenticated pause from another origin or from no origin, and the queue keeps running', async () => {
      for (const origin of ['http://evil.example', 'null', undefined]) {
        const r = await board(stack, 'PUT', `/api/queues/${q(stack)}/pause`, { cookie, origin });
        expectProblem(r, 403);
      }
      const viaReferer = await fetch(`${stack.baseUrl}/admin/queues/api/queues/${q(stack)}/pause`, {
        method: 'PUT',
        headers: { cookie, referer: 'http://evil.example/admin/queues/' },
      });
      expect(viaReferer.status).to.equal(403);
      expect(await isPaused()).to.equal(false);
    });

    it('accepts a cookie-authenticated pause from its own origin (Origin, or Referer without it)', async () => {
      const r = await board(stack, 'PUT', `/api/queues/${q(stack)}/pause`, { cookie, origin: stack.baseUrl });
      expect(r.status, JSON.stringify(r.body)).to.equal(200);
      expect(await isPaused()).to.equal(true);
      const resumed = await fetch(`${stack.baseUrl}/admin/queues/api/queues/${q(stack)}/resume`, {
        method: 'PUT',
        headers: { cookie, referer: `${stack.baseUrl}/admin/queues/` },
      });
      expect(resumed.status).to.equal(200);
      expect(await isPaused()).to.equal(false);
    });

    it('asks no origin of a bearer-authenticated caller (a browser never sends the header by itself)', async () => {
      const r = await board(stack, 'PUT', `/api/queues/${q(stack)}/pause`, { token: stack.tokens.full });
      expect(r.status).to.equal(200);
      expect(await isPaused()).to.equal(true);
    });
  });

  describe('read-only clients', () => {
    it('get a read-only board: the page and the API load, bull-board marks the queue read-only', async () => {
      const page = await board(stack, 'GET', '/', { cookie: readCookie, accept: 'text/html' });
      expect(page.status).to.equal(200);
      const api = await board(stack, 'GET', '/api/queues', { cookie: readCookie });
      expect(api.status).to.equal(200);
      expect(api.body.queues[0].readOnlyMode).to.equal(true);
      const full = await board(stack, 'GET', '/api/queues', { cookie });
      expect(full.body.queues[0].readOnlyMode).to.equal(false);
    });

    it('are refused every change, by cookie or by bearer, and the queue stays as it was', async () => {
      const attempts = [
        board(stack, 'PUT', `/api/queues/${q(stack)}/pause`, { cookie: readCookie, origin: stack.baseUrl }),
        board(stack, 'PUT', `/api/queues/${q(stack)}/pause`, { token: stack.tokens.read }),
        board(stack, 'PUT', '/api/queues/pause', { token: stack.tokens.read }),
        board(stack, 'PUT', `/api/queues/${q(stack)}/obliterate`, { token: stack.tokens.read, body: { force: true } }),
      ];
      for (const r of await Promise.all(attempts)) expectProblem(r, 403);
      expect(await isPaused()).to.equal(false);
    });
  });

  describe('what nobody may do from the dashboard', () => {
    it('refuses to add, duplicate or edit jobs and to change queue settings, for full access too', async () => {
      const queue = createQueue(redisConnection(REDIS_URL), stack.apiConfig.redis.prefix, stack.deploymentId);
      try {
        const before = await queue.getJobCounts();
        const name = q(stack);
        const refused = [
          ['POST', `/api/queues/${name}/add`, { name: 'delete', data: { jobId: 'x', instanceId: 'y' } }],
          ['PATCH', `/api/queues/${name}/some-job/update-data`, { jobData: { instanceId: 'y' } }],
          ['PATCH', `/api/queues/${name}/some-job/delay`, { delay: 1 }],
          ['PATCH', `/api/queues/${name}/some-job/priority`, { priority: 1 }],
          ['PUT', `/api/queues/${name}/concurrency`, { concurrency: 1000 }],
          ['PUT', `/api/queues/${name}/rate-limit`, { max: 1, duration: 1000 }],
          ['PUT', `/api/queues/${name}/rate-limit/release`, undefined],
          ['PUT', `/api/queues/${name}/job-schedulers/s/run`, undefined],
          ['PUT', `/api/queues/${name}/some-job/remove-unprocessed-children`, undefined],
          ['POST', '/api/metrics/history/purge', {}],
          ['DELETE', '/api/queues', undefined],
        ] as const;
        for (const [method, path, body] of refused) {
          const viaBearer = await board(stack, method, path, { token: stack.tokens.full, body });
          expectProblem(viaBearer, 403);
          const viaCookie = await board(stack, method, path, { cookie, origin: stack.baseUrl, body });
          expectProblem(viaCookie, 403);
        }
        expect(await queue.getJobCounts()).to.deep.equal(before);
      } finally {
        await queue.close();
        await queue.disconnect();
      }
    });

    it('sends its own content security policy (hashes, no unsafe-inline) and does not name its server', async () => {
      const page = await board(stack, 'GET', '/', { cookie, accept: 'text/html' });
      const csp = page.headers.get('content-security-policy')!;
      expect(csp).to.include("script-src 'self'").and.include("style-src 'self' 'sha256-");
      expect(csp).to.include("style-src-attr 'unsafe-hashes' 'sha256-");
      expect(csp).not.to.include('unsafe-inline');
      expect(csp).not.to.include('https:');
      expect(page.headers.get('x-powered-by')).to.equal(null);
      expect(page.headers.get('x-content-type-options')).to.equal('nosniff');
    });

    it('answers 404 problem+json for a path under /admin/queues that bull-board does not know', async () => {
      expectProblem(await board(stack, 'GET', '/no/such/thing', { cookie }), 404);
    });
  });

  describe('GET /admin/queue', () => {
    it('reports a paused queue with a warning a person can act on, and no worker', async () => {
      await board(stack, 'PUT', `/api/queues/${q(stack)}/pause`, { token: stack.tokens.full });
      const r = await stack.request('GET', '/admin/queue', { token: stack.tokens.read });
      expect(r.status).to.equal(200);
      expect(r.body).to.include({ paused: true, workers: 0 });
      expect(r.body.warnings).to.deep.equal([PAUSED_WARNING, NO_WORKER_WARNING]);
      expect(r.body.counts).to.have.all.keys(
        'waiting',
        'active',
        'delayed',
        'failed',
        'completed',
        'paused',
        'prioritized',
        'waiting-children',
      );
    });

    it('counts the running workers and drops the warnings once the queue runs and a worker is up', async () => {
      const worker = await stack.startWorker();
      try {
        const r = await waitFor(async () => {
          const s = await stack.request('GET', '/admin/queue');
          return s.body.workers >= 1 ? s : undefined;
        }, 'the worker to be counted');
        expect(r.body).to.include({ paused: false });
        expect(r.body.warnings).to.deep.equal([]);
      } finally {
        await worker.stop();
        await stack.stopWorkers();
      }
    });

    it('needs a token; takes only GET', async () => {
      expectProblem(await stack.request('GET', '/admin/queue', { token: null }), 401);
      expectProblem(await stack.request('GET', '/admin/queue', { token: null, headers: { cookie } }), 401);
      const post = await stack.request('POST', '/admin/queue', { body: {} });
      expectProblem(post, 405);
      expect(post.headers.get('allow')).to.equal('GET, HEAD');
    });
  });
});

describe('GET /admin/queue with Redis down', () => {
  let proxy: TcpProxy;
  let stack: Stack;
  before(async () => {
    proxy = await new TcpProxy(Number(new URL(REDIS_URL).port || 6379), new URL(REDIS_URL).hostname).start();
    stack = await startStack({ worker: false, env: { REDIS_URL: `redis://127.0.0.1:${proxy.port}` } });
  });
  after(async () => {
    proxy.restore();
    await stack.stop();
    await proxy.stop();
  });

  it('answers 503 problem+json with Retry-After', async () => {
    proxy.cutOff();
    const r = await stack.request('GET', '/admin/queue');
    expectProblem(r, 503);
    expect(r.headers.get('retry-after')).to.equal('5');
  });
});

/**
 * Whatever an operator does to the queue from the dashboard, the admin database stays the
 * truth: every instance reaches the end state its last request asked for, and the server's
 * databases match the records.
 */
describe('dashboard actions cannot break the guarantees @slow', function () {
  this.timeout(120_000);
  let stack: Stack;
  let worker: WorkerHandle;
  let queue: ReturnType<typeof createQueue>;
  before(async () => {
    stack = await startStack({ worker: false });
    worker = await stack.startWorker();
    queue = createQueue(redisConnection(REDIS_URL), stack.apiConfig.redis.prefix, stack.deploymentId);
  });
  after(async () => {
    await queue.close();
    await queue.disconnect();
    await stack.stop();
  });
  afterEach(async () => {
    await act('PUT', '/resume');
  });

  /** A dashboard action as a signed-in full-access browser makes it. */
  async function act(method: string, path: string, body?: unknown) {
    const r = await board(stack, method, `/api/queues/${q(stack)}${path}`, {
      token: stack.tokens.full,
      body,
    });
    expect(r.status, `${method} ${path}: ${JSON.stringify(r.body)}`).to.be.oneOf([200, 204]);
    return r;
  }

  async function request(method: string, path: string, body?: unknown) {
    const r = await stack.request(method, path, { body });
    expect(r.status, JSON.stringify(r.body)).to.be.oneOf([200, 201]);
    return r.body as { id: string; job: { id: string } };
  }

  /** Runs the reconciler (as its timer would) until every instance reaches its expected status. */
  async function settle(expected: Record<string, string>) {
    await worker.reconciler.runOnce();
    for (const [id, status] of Object.entries(expected)) await stack.waitForStatus(id, status, 90_000);
    await expectServerMatchesRecords(stack);
    const rows = await stack.jobsRows();
    expect(rows.filter((j) => j.status === 'queued' || j.status === 'running')).to.deep.equal([]);
  }

  /** Operations of every kind in flight at once: two creates, a rename, a delete; `first` runs before they are asked. */
  async function mixedOperations(tag: string, first: () => Promise<unknown> = () => Promise.resolve()) {
    const toRename = await stack.createInstance(`${tag}_r`);
    const toDelete = await stack.createInstance(`${tag}_d`);
    await first();
    const created = await Promise.all(
      [1, 2].map((n) =>
        request('POST', '/admin/instances', {
          instanceName: `${tag} ${n} ${stack.id}`,
          databaseName: stack.db(`${tag}_${n}`),
        }),
      ),
    );
    const renamed = await request('PUT', `/admin/instances/${toRename.id}`, { databaseName: stack.db(`${tag}_r2`) });
    const deleted = await request('DELETE', `/admin/instances/${toDelete.id}`);
    return {
      jobIds: [...created.map((c) => c.job.id), renamed.job.id, deleted.job.id],
      expected: {
        [created[0]!.id]: 'Created',
        [created[1]!.id]: 'Created',
        [toRename.id]: 'Created',
        [toDelete.id]: 'Deleted',
      },
    };
  }

  /** Holds the worker's per-instance lock, so the instance's job keeps going back to delayed. */
  async function holdInstance(instanceId: string): Promise<Client> {
    const session = await connectTo(`odsim_t_${stack.id}`);
    await session.query('SELECT pg_advisory_lock(hashtextextended($1, 0))', [`odsim:instance:${instanceId}`]);
    return session;
  }

  const stateOf = (jobId: string) => queue.getJobState(jobId);

  it('removing waiting jobs: the reconciler enqueues them again', async () => {
    const { jobIds, expected } = await mixedOperations('rmw', () => act('PUT', '/pause'));
    await worker.reconciler.stop(); // its timer would put the jobs back before the test looks
    try {
      for (const id of jobIds) {
        await waitFor(async () => (await stateOf(id)) === 'waiting', `job ${id} waiting`);
        await act('PUT', `/${id}/clean`);
      }
      expect(await Promise.all(jobIds.map(stateOf))).to.deep.equal(jobIds.map(() => 'unknown'));
      expect((await worker.reconciler.runOnce()).enqueued).to.equal(jobIds.length);
    } finally {
      worker.reconciler.start();
    }
    await act('PUT', '/resume');
    await settle(expected);
  });

  it('removing and promoting a delayed job: the operation still ends once, as asked', async () => {
    const instance = await stack.createInstance('delayed');
    const session = await holdInstance(instance.id);
    try {
      const deleted = await request('DELETE', `/admin/instances/${instance.id}`);
      await waitFor(async () => (await stateOf(deleted.job.id)) === 'delayed', 'the busy job to be delayed');
      await act('PUT', `/${deleted.job.id}/clean`);
      await worker.reconciler.runOnce();
      await waitFor(async () => (await stateOf(deleted.job.id)) === 'delayed', 'the re-enqueued job to be delayed');
      await act('PUT', `/${deleted.job.id}/promote`);
      await act('PUT', '/promote');
    } finally {
      await session.end();
    }
    await settle({ [instance.id]: 'Deleted' });
  });

  it('retrying completed jobs (one, then all): nothing runs again', async () => {
    const a = await stack.createInstance('retry_a');
    const b = await stack.createInstance('retry_b');
    await request('PUT', `/admin/instances/${b.id}`, { databaseName: stack.db('retry_b2') });
    await stack.waitForStatus(b.id, 'Created');
    await waitFor(async () => (await stateOf(a.job.id)) === 'completed', 'the create job to be completed');
    const before = {
      jobs: (await stack.jobsRows()).map((j) => `${j.id}:${j.status}:${j.attempts}`).sort(),
      audit: await stack.dataSource.getRepository(AuditEventEntity).count(),
    };
    await act('PUT', `/${a.job.id}/retry`);
    await act('PUT', '/retry/completed');
    await waitFor(async () => {
      const counts = await queue.getJobCounts('waiting', 'active');
      return (counts.waiting ?? 0) + (counts.active ?? 0) === 0;
    }, 'the retried jobs to be delivered');
    await settle({ [a.id]: 'Created', [b.id]: 'Created' });
    expect((await stack.jobsRows()).map((j) => `${j.id}:${j.status}:${j.attempts}`).sort()).to.deep.equal(before.jobs);
    expect(await stack.dataSource.getRepository(AuditEventEntity).count()).to.equal(before.audit);
  });

  it('no dashboard route deletes a protected instance: its jobs are run again, promoted, cleaned, and it stays', async () => {
    const instance = await stack.createInstance('protected');
    expect((await request('POST', `/admin/instances/${instance.id}/protect`)).id).to.equal(instance.id);
    await waitFor(async () => (await stateOf(instance.job.id)) === 'completed', 'the create job to be completed');
    await act('PUT', `/${instance.job.id}/retry`);
    await act('PUT', '/retry/completed');
    await act('PUT', '/promote');
    await act('PUT', `/${instance.job.id}/clean`);
    // A delete job cannot be forged from the dashboard, whatever its payload.
    const forged = await board(stack, 'POST', `/api/queues/${q(stack)}/add`, {
      token: stack.tokens.full,
      body: { name: 'delete', data: { id: instance.job.id, type: 'delete', instanceId: instance.id } },
    });
    expectProblem(forged, 403);
    await waitFor(async () => {
      const counts = await queue.getJobCounts('waiting', 'active', 'delayed');
      return (counts.waiting ?? 0) + (counts.active ?? 0) + (counts.delayed ?? 0) === 0;
    }, 'the retried jobs to be delivered');
    await worker.reconciler.runOnce();
    const after = await stack.waitForStatus(instance.id, 'Created');
    expect(after.protected).to.equal(true);
    expect(after._links).not.to.have.any.keys('delete', 'rename');
    expect((await stack.jobsRows()).filter((j) => j.instanceId === instance.id).map((j) => j.type)).to.deep.equal([
      'create',
    ]);
    await settle({ [instance.id]: 'Created' });
  });

  it('cleaning completed and failed jobs, and emptying the queue, while operations are under way', async () => {
    const { expected } = await mixedOperations('clean');
    await act('PUT', '/clean/completed');
    await act('PUT', '/clean/failed');
    await act('PUT', '/pause');
    await act('PUT', '/empty');
    await act('PUT', '/resume');
    await settle(expected);
  });

  it('pausing then resuming: operations wait, then finish', async () => {
    const { jobIds, expected } = await mixedOperations('pause', () => act('PUT', '/pause'));
    const status = await stack.request('GET', '/admin/queue');
    expect(status.body.paused).to.equal(true);
    expect(status.body.warnings).to.include(PAUSED_WARNING);
    const rows = await stack.dataSource.getRepository(JobEntity).findBy(jobIds.map((id) => ({ id })));
    expect(rows.map((r) => r.status)).to.deep.equal(rows.map(() => 'queued'));
    await act('PUT', '/resume');
    await settle(expected);
  });

  it('obliterating the queue (forced, with operations running): the reconciler rebuilds it, settings included', async () => {
    const { expected } = await mixedOperations('obl');
    await waitFor(
      async () => ((await queue.getJobCounts('active')).active ?? 0) > 0,
      'an operation to be running',
      30_000,
      20,
    );
    await act('PUT', '/pause');
    // Its timer (every 500 ms here) would restore the settings before the test could see them gone.
    await worker.reconciler.stop();
    try {
      await act('PUT', '/obliterate', { force: true });
      expect(await queue.getGlobalConcurrency()).to.equal(null);
    } finally {
      worker.reconciler.start();
    }
    await settle(expected);
    expect(await queue.getGlobalConcurrency()).to.equal(
      stack.workerConfig.concurrency.global + stack.workerConfig.concurrency.perWorker,
    );
  });
});
