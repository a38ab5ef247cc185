import { expect } from 'chai';
import { instanceNameKey } from '../../shared/instances/instance-name';
import { ClientStore, NewClient } from '../../api/auth/clients';
import { SCOPES } from '../../api/auth/scopes';
import { ApiClientEntity, DatabaseNameClaimEntity, InstanceEntity, JobEntity } from '../../shared/database/entities';
import {
  distinctInstanceNames,
  expectAdminTablesIntact,
  expectProblem,
  isValidInstanceName,
  RawResponse,
  sendRaw,
  serverDatabases,
  SQL_PAYLOADS,
} from '../support/hostile';
import { Stack, startStack } from '../support/stack';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;
/** Payloads that can never be a database name, with or without this stack's prefix in front. */
const NOT_A_DATABASE_NAME = SQL_PAYLOADS.filter((p) => /[^A-Za-z0-9_]/.test(p));
/** What Node will put in a header line at all. */
const SENDABLE_AS_HEADER = SQL_PAYLOADS.filter((p) => /^[\t\x20-\x7e\x80-\xff]+$/.test(p));

/** Runs `work` over `items`, `width` at a time (token requests each cost a scrypt hash). */
async function inBatches<T>(
  items: readonly T[],
  width: number,
  work: (item: T, index: number) => Promise<void>,
): Promise<void> {
  for (let i = 0; i < items.length; i += width) {
    await Promise.all(items.slice(i, i + width).map((item, j) => work(item, i + j)));
  }
}

describe('SQL injection attempts in every field change nothing @slow', () => {
  let stack: Stack;
  let databasesBefore: string[];
  let clientsBefore: string[];
  let client: NewClient;
  /** What valid requests created, by instance id: the admin tables must hold exactly this. */
  const made = new Map<string, { instanceName: string; databaseName: string }>();
  let jobsMade = 0;
  /** A Created instance that the attempts aim at. */
  let anchor: { id: string; jobId: string; instanceName: string; databaseName: string };

  const send = (
    method: string,
    path: string,
    options: { body?: unknown; headers?: Record<string, string>; token?: string | null } = {},
  ) => {
    const headers: Record<string, string> = { ...options.headers };
    const token = options.token === undefined ? stack.tokens.full : options.token;
    if (token) headers.authorization = `Bearer ${token}`;
    if (options.body !== undefined) headers['content-type'] ??= 'application/json';
    const body =
      options.body === undefined
        ? undefined
        : typeof options.body === 'string'
          ? options.body
          : JSON.stringify(options.body);
    return sendRaw(stack.baseUrl, { method, path, headers, body });
  };

  /** POST /admin/instances that must be accepted; records what it made. */
  async function create(
    instanceName: string,
    databaseName: string,
    headers?: Record<string, string>,
  ): Promise<RawResponse> {
    const r = await send('POST', '/admin/instances', { body: { instanceName, databaseName }, headers });
    expect(r.status, `create ${JSON.stringify(instanceName)}: ${r.text}`).to.equal(201);
    made.set(r.json.id, { instanceName, databaseName });
    jobsMade += 1;
    return r;
  }

  before(async () => {
    stack = await startStack({ env: { WORKER_CONCURRENCY: '4' } });
    databasesBefore = await serverDatabases(stack);
    client = await new ClientStore(stack.dataSource).create('injection', SCOPES.fullAccess);
    clientsBefore = (await stack.dataSource.getRepository(ApiClientEntity).find())
      .map((c) => `${c.clientId} ${c.scopes} ${c.disabledAt?.toISOString() ?? 'enabled'}`)
      .sort();
    const r = await create(`Anchor ${stack.id}`, stack.db('anchor'));
    anchor = {
      id: r.json.id,
      jobId: r.json.job.id,
      instanceName: r.json.instanceName,
      databaseName: r.json.databaseName,
    };
    await stack.waitForStatus(anchor.id, 'Created');
  });
  after(async () => stack?.stop());

  afterEach('the server and the admin tables hold only what valid requests made', async () => {
    await expectAdminTablesIntact(stack);
    const byId = (a: { id: string }, b: { id: string }) => a.id.localeCompare(b.id);
    const instances = await stack.dataSource.getRepository(InstanceEntity).find();
    expect(
      instances.map((i) => ({ id: i.id, instanceName: i.instanceName, databaseName: i.databaseName })).sort(byId),
      'instances',
    ).to.deep.equal([...made].map(([id, m]) => ({ id, ...m })).sort(byId));
    const jobs = await stack.dataSource.getRepository(JobEntity).find();
    expect(jobs.length, 'jobs').to.equal(jobsMade);
    expect(
      jobs.every((j) => made.has(j.instanceId)),
      'jobs of known instances',
    ).to.equal(true);
    const claims = await stack.dataSource.getRepository(DatabaseNameClaimEntity).find();
    expect(claims.map((c) => c.nameKey).sort(), 'database name claims').to.deep.equal(
      [...made.values()].map((m) => m.databaseName.toLowerCase()).sort(),
    );
    const clients = await stack.dataSource.getRepository(ApiClientEntity).find();
    expect(
      clients.map((c) => `${c.clientId} ${c.scopes} ${c.disabledAt?.toISOString() ?? 'enabled'}`).sort(),
      'api clients',
    ).to.deep.equal(clientsBefore);
    expect(await serverDatabases(stack), 'databases on the server').to.deep.equal(
      [...new Set([...databasesBefore, ...[...made.values()].map((m) => m.databaseName)])].sort(),
    );
  });

  describe('instanceName (free text)', () => {
    it('stores a name that reads as SQL verbatim, and creates the instance normally', async () => {
      const names = distinctInstanceNames(SQL_PAYLOADS.filter(isValidInstanceName));
      expect(names.length).to.be.greaterThan(25);
      const ids: string[] = [];
      for (const [i, name] of names.entries()) {
        const r = await create(name, stack.db(`name_${i}`));
        expect(r.json.instanceName).to.equal(name);
        ids.push(r.json.id);
      }
      await Promise.all(ids.map((id) => stack.waitForStatus(id, 'Created', 120_000)));
      for (const [i, id] of ids.entries()) {
        const r = await send('GET', `/admin/instances/${id}`);
        expect(r.status).to.equal(200);
        expect(r.json).to.include({ instanceName: names[i], databaseName: stack.db(`name_${i}`), status: 'Created' });
      }
    });

    it('refuses a name with control characters, NUL or only blanks, on create and rename, with 400', async () => {
      const refused = SQL_PAYLOADS.filter((p) => !isValidInstanceName(p));
      expect(refused).to.include.members(['\u0000', 'a\u0000b', ' ']);
      for (const [i, name] of refused.entries()) {
        const post = await send('POST', '/admin/instances', {
          body: { instanceName: name, databaseName: stack.db(`refused_${i}`) },
        });
        expectProblem(post, 400, `POST ${JSON.stringify(name)}`);
        expect(post.json.errors).to.have.key('instanceName');
        const put = await send('PUT', `/admin/instances/${anchor.id}`, { body: { instanceName: name } });
        expectProblem(put, 400, `PUT ${JSON.stringify(name)}`);
        expect(put.json.errors).to.have.key('instanceName');
      }
    });

    it('renames to a name that reads as SQL verbatim, without a job', async () => {
      for (const payload of SQL_PAYLOADS.filter(isValidInstanceName)) {
        const name = `${payload} (renamed)`;
        const r = await send('PUT', `/admin/instances/${anchor.id}`, { body: { instanceName: name } });
        expect(r.status, r.text).to.equal(200);
        expect(r.json).to.include({ instanceName: name, status: 'Created', databaseName: anchor.databaseName });
        made.get(anchor.id)!.instanceName = name;
        expect((await send('GET', `/admin/instances/${anchor.id}`)).json.instanceName).to.equal(name);
      }
      const back = await send('PUT', `/admin/instances/${anchor.id}`, { body: { instanceName: anchor.instanceName } });
      expect(back.status).to.equal(200);
      made.get(anchor.id)!.instanceName = anchor.instanceName;
    });
  });

  describe('databaseName', () => {
    it('refuses SQL as a databaseName on create with 400, with or without a valid-looking prefix', async () => {
      for (const [i, payload] of NOT_A_DATABASE_NAME.entries()) {
        for (const databaseName of [payload, stack.db(`x${payload}`), `${payload}${stack.db('y')}`]) {
          const r = await send('POST', '/admin/instances', {
            body: { instanceName: `db attempt ${stack.id} ${i}`, databaseName },
          });
          expectProblem(r, 400, `POST databaseName ${JSON.stringify(databaseName)}`);
          expect(r.json.errors).to.have.key('databaseName');
        }
      }
    });

    it('refuses SQL as a databaseName on rename with 400, leaving the instance as it was', async () => {
      for (const payload of NOT_A_DATABASE_NAME) {
        for (const databaseName of [payload, stack.db(`x${payload}`)]) {
          const r = await send('PUT', `/admin/instances/${anchor.id}`, { body: { databaseName } });
          expectProblem(r, 400, `PUT databaseName ${JSON.stringify(databaseName)}`);
          expect(r.json.errors).to.have.key('databaseName');
        }
      }
      const now = await send('GET', `/admin/instances/${anchor.id}`);
      expect(now.json).to.include({ status: 'Created', databaseName: anchor.databaseName, previousDatabaseName: null });
    });
  });

  describe('the :id path parameter', () => {
    const routes: { method: string; path: (id: string) => string; body?: unknown }[] = [
      { method: 'GET', path: (id) => `/admin/instances/${id}` },
      { method: 'PUT', path: (id) => `/admin/instances/${id}`, body: { instanceName: 'never applied' } },
      { method: 'DELETE', path: (id) => `/admin/instances/${id}` },
      { method: 'GET', path: (id) => `/admin/instances/${id}/jobs` },
      { method: 'GET', path: (id) => `/admin/jobs/${id}` },
    ];

    it('answers SQL in the id of every route with 404, also when it follows a real id', async () => {
      let sent = 0;
      for (const payload of SQL_PAYLOADS) {
        for (const id of [payload, `${anchor.id}${payload}`, `${anchor.jobId}${payload}`, `${payload}${anchor.id}`]) {
          for (const route of routes) {
            const r = await send(route.method, route.path(encodeURIComponent(id)), { body: route.body });
            expectProblem(r, 404, `${route.method} ${route.path(JSON.stringify(id))}`);
            sent += 1;
          }
        }
      }
      expect(sent).to.equal(SQL_PAYLOADS.length * 4 * routes.length);
      const now = await send('GET', `/admin/instances/${anchor.id}`);
      expect(now.json).to.include({ status: 'Created', instanceName: anchor.instanceName });
      expect((await send('GET', `/admin/instances/${anchor.id}/jobs`)).json).to.have.length(1);
    });
  });

  describe('list query parameters', () => {
    const list = (query: string) => send('GET', `/admin/instances?${query}`);
    const numeric = (p: string) => /^[\s\d.+\-eExX]*$/.test(p);

    it('refuses SQL in offset, limit, status and includeDeleted with 400', async () => {
      for (const payload of SQL_PAYLOADS) {
        for (const field of ['offset', 'limit', 'status', 'includeDeleted']) {
          const r = await list(`${field}=${encodeURIComponent(payload)}`);
          const what = `${field}=${JSON.stringify(payload)}`;
          if ((field === 'offset' || field === 'limit') && numeric(payload)) {
            expect([200, 400], what).to.include(r.status);
            if (r.status === 400) expectProblem(r, 400, what);
            else expect(r.json.length, what).to.be.at.most(made.size);
          } else {
            expectProblem(r, 400, what);
            expect(r.json.errors, what).to.have.key(field);
          }
        }
      }
    });

    it('matches SQL in the instanceName filter as literal text, folded as names are compared', async () => {
      const all = await stack.dataSource.getRepository(InstanceEntity).find();
      for (const payload of SQL_PAYLOADS) {
        const r = await list(`instanceName=${encodeURIComponent(payload)}&includeDeleted=true&limit=500`);
        const what = `instanceName=${JSON.stringify(payload)}`;
        if (/[\u0000-\u001f]/.test(payload)) {
          expectProblem(r, 400, what);
          expect(r.json.errors, what).to.have.key('instanceName');
          continue;
        }
        expect(r.status, `${what}: ${r.text.slice(0, 200)}`).to.equal(200);
        // Folded as uniqueness is decided: case, fullwidth forms and look-alike letters match.
        const expected = all
          .filter((i) => instanceNameKey(i.instanceName).includes(instanceNameKey(payload)))
          .map((i) => i.id)
          .sort();
        expect(r.json.map((i: { id: string }) => i.id).sort(), what).to.deep.equal(expected);
        expect(Number(r.headers['total-count']), what).to.equal(expected.length);
      }
    });

    it('treats % and _ in the instanceName filter literally, not as wildcards', async () => {
      const names = ['100% sure', '100 percent sure', 'snake_case', 'snakeXcase', 'back\\slash', 'backslash'].map(
        (n) => `${n} ${stack.id}`,
      );
      const ids: Record<string, string> = {};
      for (const [i, name] of names.entries()) ids[name] = (await create(name, stack.db(`literal_${i}`))).json.id;
      await Promise.all(Object.values(ids).map((id) => stack.waitForStatus(id, 'Created', 120_000)));
      const found = async (filter: string) =>
        ((await list(`instanceName=${encodeURIComponent(filter)}&limit=500`)).json as { instanceName: string }[])
          .map((i) => i.instanceName)
          .filter((n) => n.endsWith(stack.id) && names.includes(n))
          .sort();
      expect(await found('0% s')).to.deep.equal([`100% sure ${stack.id}`]);
      expect(await found('%')).to.deep.equal([`100% sure ${stack.id}`]);
      expect(await found('e_c')).to.deep.equal([`snake_case ${stack.id}`]);
      expect(await found('_')).to.deep.equal([`snake_case ${stack.id}`]);
      expect(await found('k\\s')).to.deep.equal([`back\\slash ${stack.id}`]);
      expect(await found('SNAKE')).to.deep.equal([`snakeXcase ${stack.id}`, `snake_case ${stack.id}`].sort());
    });
  });

  describe('the token endpoint', () => {
    const form = (fields: Record<string, string>) =>
      send('POST', '/connect/token', {
        token: null,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(fields).toString(),
      });
    const json = (fields: Record<string, string>) => send('POST', '/connect/token', { token: null, body: fields });
    const basic = (id: string, secret: string, fields: Record<string, string> = {}) =>
      send('POST', '/connect/token', {
        token: null,
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`,
        },
        body: new URLSearchParams({ grant_type: 'client_credentials', ...fields }).toString(),
      });

    function expectRefused(r: RawResponse, status: number, error: string, what: string) {
      expectProblem(r, status, what);
      expect(r.json.error, what).to.equal(error);
      expect(r.json, what).not.to.have.property('access_token');
    }

    it('refuses SQL in client_id, client_secret and scope, as a form, as JSON and with HTTP Basic, issuing nothing', async () => {
      const grant = 'client_credentials';
      await inBatches(SQL_PAYLOADS, 8, async (p) => {
        const what = JSON.stringify(p);
        for (const post of [form, json]) {
          expectRefused(
            await post({ grant_type: grant, client_id: p, client_secret: client.client_secret }),
            401,
            'invalid_client',
            `client_id ${what}`,
          );
          expectRefused(
            await post({ grant_type: grant, client_id: client.client_id, client_secret: p }),
            401,
            'invalid_client',
            `client_secret ${what}`,
          );
          expectRefused(
            await post({
              grant_type: grant,
              client_id: client.client_id,
              client_secret: client.client_secret,
              scope: p,
            }),
            400,
            'invalid_scope',
            `scope ${what}`,
          );
        }
        expectRefused(await basic(p, client.client_secret), 401, 'invalid_client', `Basic id ${what}`);
        expectRefused(await basic(client.client_id, p), 401, 'invalid_client', `Basic secret ${what}`);
        expectRefused(
          await basic(client.client_id, client.client_secret, { scope: p }),
          400,
          'invalid_scope',
          `Basic scope ${what}`,
        );
      });
      const fine = await form({ grant_type: grant, client_id: client.client_id, client_secret: client.client_secret });
      expect(fine.status, fine.text).to.equal(200);
      expect(fine.json.access_token).to.be.a('string');
    });
  });

  describe('the X-Request-Id header', () => {
    it('answers under an id of its own when the offered one is not a safe token', async () => {
      expect(SENDABLE_AS_HEADER.length).to.be.greaterThan(20);
      for (const p of SENDABLE_AS_HEADER) {
        const expectedEcho = SAFE_REQUEST_ID.test(p.trim());
        for (const [path, status] of [
          ['/admin/instances', 200],
          [`/admin/instances/${encodeURIComponent(p)}`, 404],
          ['/health/live', 200],
        ] as const) {
          const r = await send('GET', path, { headers: { 'x-request-id': p } });
          expect(r.status, `${path} with X-Request-Id ${JSON.stringify(p)}`).to.equal(status);
          // Always our own id; a safe offered one is only echoed beside it.
          const answered = String(r.headers['x-request-id']);
          expect(answered, JSON.stringify(p)).to.match(UUID);
          if (expectedEcho) expect(r.headers['x-client-request-id']).to.equal(p.trim());
          else expect(r.headers['x-client-request-id'], JSON.stringify(p)).to.equal(undefined);
          if (status === 404) expect(r.json.requestId).to.equal(answered);
        }
      }
    });

    it('records the id it chose, not the offered SQL, on the job of a create', async () => {
      const offered = `'; DROP TABLE jobs; --`;
      const r = await create(`Request id ${stack.id}`, stack.db('request_id'), { 'x-request-id': offered });
      const answered = String(r.headers['x-request-id']);
      expect(answered).to.match(UUID);
      await stack.waitForStatus(r.json.id, 'Created', 120_000);
      const job = await stack.dataSource.getRepository(JobEntity).findOneByOrFail({ id: r.json.job.id });
      expect(job.requestId).to.equal(answered);
    });
  });
});
