import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { ClientStore } from '../../api/auth/clients';
import { SCOPES } from '../../api/auth/scopes';
import { ApiClientEntity, InstanceEntity } from '../../shared/database/entities';
import { EventStream } from '../support/event-stream';
import { type HttpResult, type RequestOptions, type Stack, startStack } from '../support/stack';

const run = promisify(execFile);
const CLI = path.resolve(__dirname, '../../api/cli.js');

const A = 'district-a';
const B = 'district-b';

describe('tenants', () => {
  let stack: Stack;
  /** Tokens: limited to A, limited to B, unlimited (stack.tokens.full), read-only limited to A. */
  const tokens = { a: '', b: '', readA: '' };
  before(async () => {
    stack = await startStack({ worker: false, env: { TENANTS: `${A},${B}` } });
    const clients = new ClientStore(stack.dataSource);
    const limited = async (name: string, scope: string, tenants: string[]) => {
      const client = await clients.create(name, scope);
      expect(await clients.setTenants(client.client_id, tenants)).to.equal(true);
      return stack.token(client);
    };
    tokens.a = await limited('tenant-a', SCOPES.fullAccess, [A]);
    tokens.b = await limited('tenant-b', SCOPES.fullAccess, [B]);
    tokens.readA = await limited('tenant-a-read', SCOPES.readOnly, [A]);
  });
  after(async () => stack.stop());

  const as = (token: string, tenant: string | undefined, extra: RequestOptions = {}): RequestOptions => ({
    token,
    ...extra,
    headers: { ...(tenant === undefined ? {} : { tenant }), ...extra.headers },
  });
  let n = 0;
  const create = async (token: string, tenant: string, body: Record<string, unknown> = {}): Promise<HttpResult> => {
    n += 1;
    return stack.request(
      'POST',
      '/admin/instances',
      as(token, tenant, {
        body: { instanceName: `Tenant ${stack.id} ${n}`, databaseName: stack.db(`tn_${n}`), ...body },
      }),
    );
  };
  const ids = (r: HttpResult) => (r.body as { id: string }[]).map((i) => i.id);

  it('creates an instance in the tenant the header names, and shows it', async () => {
    const r = await create(tokens.a, A);
    expect(r.status, JSON.stringify(r.body)).to.equal(201);
    expect(r.body.tenant).to.equal(A);
    const row = await stack.dataSource.getRepository(InstanceEntity).findOneByOrFail({ id: r.body.id });
    expect(row.tenant).to.equal(A);
  });

  it('requires the tenant header on every instance and job route (400)', async () => {
    for (const [method, path] of [
      ['GET', '/admin/instances'],
      ['POST', '/admin/instances'],
      ['GET', '/admin/jobs'],
      ['GET', `/admin/instances/00000000-0000-4000-8000-000000000000`],
      ['GET', `/admin/jobs/00000000-0000-4000-8000-000000000000`],
    ] as const) {
      const r = await stack.request(method, path, { body: method === 'POST' ? {} : undefined });
      expect(r.status, `${method} ${path}`).to.equal(400);
      expect(r.body.errors.tenant.join(' ')).to.match(/required/);
    }
  });

  it('refuses an unknown tenant, and SQL in the header changes nothing (400)', async () => {
    const before = await stack.dataSource.getRepository(InstanceEntity).count();
    for (const tenant of ['district-c', "district-a' OR '1'='1", 'district-a; DROP TABLE instances;--', 'DISTRICT-A']) {
      const list = await stack.request('GET', '/admin/instances', as(stack.tokens.full, tenant));
      expect(list.status, tenant).to.equal(400);
      expect(list.body.errors.tenant.join(' ')).to.match(/unknown tenant/);
      expect(JSON.stringify(list.body)).not.to.contain('DROP');
      expect((await create(stack.tokens.full, tenant)).status).to.equal(400);
    }
    expect(await stack.dataSource.getRepository(InstanceEntity).count()).to.equal(before);
  });

  it("gives a limited client 403 for any tenant not its own, configured or not (no tenant's existence told)", async () => {
    for (const tenant of [B, 'district-c']) {
      const r = await stack.request('GET', '/admin/instances', as(tokens.a, tenant));
      expect(r.status, tenant).to.equal(403);
      expect((await create(tokens.a, tenant)).status).to.equal(403);
      expect((await stack.request('GET', '/admin/jobs', as(tokens.a, tenant))).status).to.equal(403);
    }
  });

  it("isolates tenants: a client of A gets 404 for B's instance and jobs, and never lists them", async () => {
    const mine = await create(tokens.a, A);
    const theirs = await create(tokens.b, B);
    expect(theirs.status).to.equal(201);
    const id = theirs.body.id as string;
    for (const [method, path, body] of [
      ['GET', `/admin/instances/${id}`, undefined],
      ['PUT', `/admin/instances/${id}`, { instanceName: `Taken over ${stack.id}` }],
      ['DELETE', `/admin/instances/${id}`, undefined],
      ['DELETE', `/admin/instances/${id}?force=true`, undefined],
      ['POST', `/admin/instances/${id}/retry`, undefined],
      ['GET', `/admin/instances/${id}/jobs`, undefined],
      ['GET', `/admin/jobs/${theirs.body.job.id}`, undefined],
    ] as const) {
      const r = await stack.request(method, path, as(tokens.a, A, { body }));
      expect(r.status, `${method} ${path}`).to.equal(404);
    }
    const row = await stack.dataSource.getRepository(InstanceEntity).findOneByOrFail({ id });
    expect(row).to.include({ status: 'PendingCreate', instanceName: theirs.body.instanceName });

    const listA = await stack.request('GET', '/admin/instances?includeDeleted=true', as(tokens.a, A));
    expect(ids(listA)).to.include(mine.body.id).and.not.include(id);
    expect(Number(listA.headers.get('total-count'))).to.equal(listA.body.length);
    const jobsA = await stack.request('GET', '/admin/jobs', as(tokens.readA, A));
    const jobInstances = (jobsA.body as { instanceId: string }[]).map((j) => j.instanceId);
    expect(jobInstances).to.include(mine.body.id).and.not.include(id);
    expect(Number(jobsA.headers.get('total-count'))).to.equal(jobsA.body.length);
  });

  it('lets a client without limits see each tenant, only through the header', async () => {
    const inA = await create(tokens.a, A);
    const inB = await create(tokens.b, B);
    const listA = await stack.request('GET', '/admin/instances', as(stack.tokens.full, A));
    const listB = await stack.request('GET', '/admin/instances', as(stack.tokens.full, B));
    expect(ids(listA)).to.include(inA.body.id).and.not.include(inB.body.id);
    expect(ids(listB)).to.include(inB.body.id).and.not.include(inA.body.id);
    expect(listA.body.every((i: { tenant: string }) => i.tenant === A)).to.equal(true);
    expect((await stack.request('GET', `/admin/instances/${inB.body.id}`, as(stack.tokens.full, A))).status).to.equal(
      404,
    );
    expect((await stack.request('GET', `/admin/instances/${inB.body.id}`, as(stack.tokens.full, B))).status).to.equal(
      200,
    );
    const jobsB = await stack.request('GET', '/admin/jobs', as(stack.tokens.full, B));
    expect((jobsB.body as { instanceId: string }[]).map((j) => j.instanceId))
      .to.include(inB.body.id)
      .and.not.include(inA.body.id);
  });

  it('keeps instance names and context sets per tenant, database names across the server', async () => {
    const name = `Shared name ${stack.id}`;
    const contexts = [{ contextKey: 'schoolYearFromRoute', contextValue: '2025' }];
    const a = await create(tokens.a, A, { instanceName: name, odsInstanceContexts: contexts });
    const b = await create(tokens.b, B, { instanceName: name, odsInstanceContexts: contexts });
    expect([a.status, b.status], JSON.stringify([a.body, b.body])).to.deep.equal([201, 201]);
    const sameNameInA = await create(tokens.a, A, { instanceName: name });
    expect(sameNameInA.status).to.equal(409);
    expect(sameNameInA.body.detail).to.match(/instanceName/);
    const sameContextsInA = await create(tokens.a, A, { odsInstanceContexts: contexts });
    expect(sameContextsInA.status).to.equal(409);
    expect(sameContextsInA.body.detail).to.match(/could not tell them apart/);
    const sameDatabaseInB = await create(tokens.b, B, { databaseName: a.body.databaseName });
    expect(sameDatabaseInB.status).to.equal(409);
    expect(sameDatabaseInB.body.detail).to.match(/databaseName is already in use/);
  });

  it("streams a client only its tenant's events (GET /admin/events with the tenant header)", async () => {
    const missing = await EventStream.open(stack.baseUrl, tokens.a);
    expect(missing.status).to.equal(400);
    missing.close();
    const barred = await EventStream.open(stack.baseUrl, tokens.a, undefined, { tenant: B });
    expect(barred.status).to.equal(403);
    barred.close();
    const stream = await EventStream.open(stack.baseUrl, tokens.readA, undefined, { tenant: A });
    try {
      expect(stream.status).to.equal(200);
      const theirs = await create(tokens.b, B);
      const mine = await create(tokens.a, A);
      // Events come in log order: B's, logged first, would have arrived before A's.
      await stream.waitFor((e) => e.data.instanceId === mine.body.id, "A's instance event");
      expect(stream.events.map((e) => e.data.instanceId)).not.to.include(theirs.body.id);
      expect(stream.events.every((e) => !('tenant' in e.data))).to.equal(true);
    } finally {
      stream.close();
    }
  });

  it('shows each client the tenants it may act in (GET /admin/settings, no tenant header needed)', async () => {
    const all = await stack.request('GET', '/admin/settings');
    expect(all.body).to.deep.equal({
      contextKeys: [],
      databaseNamePattern: null,
      tenants: [A, B],
      instanceDeletesEnabled: true,
      engine: 'postgres',
    });
    const onlyA = await stack.request('GET', '/admin/settings', { token: tokens.readA });
    expect(onlyA.body.tenants).to.deep.equal([A]);
  });

  it('still checks scope: a read-only client of A cannot write in A (403)', async () => {
    expect((await create(tokens.readA, A)).status).to.equal(403);
    expect((await stack.request('GET', '/admin/instances', as(tokens.readA, A))).status).to.equal(200);
  });

  it('limits a client to tenants from the CLI, refuses a tenant not in TENANTS, and lifts the limit', async () => {
    const cli = (...args: string[]) =>
      run(process.execPath, [CLI, 'clients', ...args], {
        env: { ...process.env, ...stack.env, LOG_LEVEL: 'warn' },
        timeout: 60_000,
      });
    const created = JSON.parse((await cli('create', '--name', `cli-${stack.id}`, '--tenants', A)).stdout.trim());
    expect(created.tenants).to.deep.equal([A]);
    const stored = () =>
      stack.dataSource.getRepository(ApiClientEntity).findOneByOrFail({ clientId: created.client_id });
    expect((await stored()).tenants).to.equal(A);

    const refused = await cli('tenants', '--client-id', created.client_id, '--tenants', 'district-z').catch(
      (err: { code: number; stderr: string }) => err,
    );
    expect(refused).to.include({ code: 1 });
    expect((refused as { stderr: string }).stderr).to.match(/not in TENANTS .*district-z/);
    expect((await stored()).tenants).to.equal(A);

    await cli('tenants', '--client-id', created.client_id, '--tenants', `${A},${B}`);
    expect((await stored()).tenants).to.equal(`${A},${B}`);
    await cli('tenants', '--client-id', created.client_id, '--all-tenants');
    expect((await stored()).tenants).to.equal(null);
    const listed = JSON.parse((await cli('list')).stdout.trim()) as { client_id: string; tenants: unknown }[];
    expect(listed.find((c) => c.client_id === created.client_id)?.tenants).to.equal(null);
  });
});
