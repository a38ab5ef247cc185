import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import type { RedisClient } from '../../shared/redis';
import type { DataSource } from 'typeorm';
import { createApp } from '../../api/app';
import { TokenService } from '../../api/auth/tokens';
import type { ApiConfig } from '../../shared/config';
import { createAdminDataSource } from '../../shared/database/data-source';
import { InstanceEntity, JobEntity } from '../../shared/database/entities';
import { createQueue, redisConnection } from '../../shared/jobs/queue';
import { silentLogger } from '../../shared/logger';
import { withTimeout } from '../../shared/retry';
import { databaseExists } from '../support/ods-server';
import { POSTGRES_URL, REDIS_URL } from '../support/settings';
import { TcpProxy } from '../support/tcp-proxy';
import { HttpResult, Stack, startStack } from '../support/stack';
import { waitFor } from '../support/wait';

function expectProblem(r: HttpResult, status: number): void {
  expect(r.status, JSON.stringify(r.body)).to.equal(status);
  expect(r.headers.get('content-type')).to.match(/^application\/problem\+json/);
  expect(r.body).to.be.an('object');
  expect(r.body.type).to.be.a('string').and.not.empty;
  expect(r.body.title).to.be.a('string').and.not.empty;
  expect(r.body.status).to.equal(status);
  expect(r.body.detail).to.be.a('string').and.not.empty;
  expect(JSON.stringify(r.body)).not.to.match(/\bat .+\.js:\d+/); // never a stack trace
}

/** A 400 whose `errors` names each field at fault (and nothing else when `only`). */
function expectFieldErrors(r: HttpResult, fields: string[], only = false): void {
  expectProblem(r, 400);
  expect(r.body.errors, JSON.stringify(r.body)).to.be.an('object');
  if (only) expect(Object.keys(r.body.errors).sort()).to.deep.equal([...fields].sort());
  else expect(r.body.errors).to.include.keys(...fields);
  for (const field of fields) {
    expect(r.body.errors[field]).to.be.an('array').that.is.not.empty;
    for (const message of r.body.errors[field]) expect(message).to.be.a('string').and.not.empty;
  }
}

async function rowCounts(dataSource: DataSource): Promise<{ instances: number; jobs: number }> {
  return {
    instances: await dataSource.getRepository(InstanceEntity).count(),
    jobs: await dataSource.getRepository(JobEntity).count(),
  };
}

/** Sends a request that must be refused, and proves the refusal wrote nothing. */
async function refusedWithoutChange(
  stack: Stack,
  status: number,
  send: () => Promise<HttpResult>,
): Promise<HttpResult> {
  const before = await rowCounts(stack.dataSource);
  const r = await send();
  expectProblem(r, status);
  expect(await rowCounts(stack.dataSource)).to.deep.equal(before);
  return r;
}

async function call(
  baseUrl: string,
  method: string,
  path: string,
  token: string | null,
  body?: unknown,
): Promise<HttpResult> {
  const headers: Record<string, string> = body === undefined ? {} : { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(baseUrl + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: /json/.test(response.headers.get('content-type') ?? '') && text ? JSON.parse(text) : text,
  };
}

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = Date.now();
  const value = await work();
  return { value, ms: Date.now() - started };
}

/** An API built by hand around `deps`, as main.ts builds it, listening on a free port. */
async function listenApp(stack: Stack, deps: { config: ApiConfig; dataSource: DataSource; redis: RedisClient }) {
  const queue = createQueue(deps.redis, deps.config.redis.prefix, stack.deploymentId);
  queue.on('error', () => undefined);
  const tokens = new TokenService(stack.apiConfig.tokens.signingKey!, {
    ...stack.apiConfig.tokens,
    deploymentId: stack.deploymentId,
  });
  const app = createApp({ ...deps, queue, deploymentId: stack.deploymentId, tokens, logger: silentLogger() });
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  return {
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      deps.redis.disconnect();
      await withTimeout(queue.close(), 5000, 'queue close').catch(() => undefined);
    },
  };
}

describe('HTTP errors as problem+json', () => {
  let stack: Stack;
  let existing: { id: string; jobId: string };
  before(async () => {
    stack = await startStack();
    const created = await stack.request('POST', '/admin/instances', {
      body: { instanceName: `Existing ${stack.id}`, databaseName: stack.db('existing') },
    });
    expect(created.status).to.equal(201);
    existing = { id: created.body.id, jobId: created.body.job.id };
  });
  after(async () => stack?.stop());

  const valid = (suffix: string) => ({ instanceName: `Valid ${stack.id} ${suffix}`, databaseName: stack.db(suffix) });
  const post = (body: unknown) => () => stack.request('POST', '/admin/instances', { body });

  describe('404 Not Found', () => {
    it('answers an unknown instance id with 404 on GET, PUT, DELETE and its jobs', async () => {
      const id = randomUUID();
      const r = await refusedWithoutChange(stack, 404, () => stack.request('GET', `/admin/instances/${id}`));
      expect(r.body.detail).to.include(id);
      expect(r.body.instance).to.equal(`/admin/instances/${id}`);
      await refusedWithoutChange(stack, 404, () =>
        stack.request('PUT', `/admin/instances/${id}`, { body: { instanceName: 'nobody' } }),
      );
      await refusedWithoutChange(stack, 404, () => stack.request('DELETE', `/admin/instances/${id}`));
      await refusedWithoutChange(stack, 404, () => stack.request('GET', `/admin/instances/${id}/jobs`));
    });

    it('answers an unknown job id with 404', async () => {
      const r = await stack.request('GET', `/admin/jobs/${randomUUID()}`);
      expectProblem(r, 404);
      expect(r.body.detail).to.match(/job/i);
      // An instance id is not a job id.
      expectProblem(await stack.request('GET', `/admin/jobs/${existing.id}`), 404);
      expect((await stack.request('GET', `/admin/jobs/${existing.jobId}`)).status).to.equal(200);
    });

    for (const malformed of [
      'not-a-uuid',
      '12345',
      `${randomUUID()}x`,
      '%27%20OR%201%3D1--',
      'ZZZZZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZZZZZZZZZ',
    ]) {
      it(`answers a malformed id (${decodeURIComponent(malformed)}) with 404, not 400 or 500`, async () => {
        expectProblem(await stack.request('GET', `/admin/instances/${malformed}`), 404);
        expectProblem(await stack.request('GET', `/admin/jobs/${malformed}`), 404);
        await refusedWithoutChange(stack, 404, () => stack.request('DELETE', `/admin/instances/${malformed}`));
        await refusedWithoutChange(stack, 404, () =>
          stack.request('PUT', `/admin/instances/${malformed}`, { body: { instanceName: 'x' } }),
        );
      });
    }

    it('answers unknown routes with 404', async () => {
      for (const [method, path, token] of [
        ['GET', '/nope', null],
        ['GET', '/admin/nope', undefined],
        ['GET', '/admin/instances/extra/segments/here', undefined],
        ['POST', '/admin/nope', undefined],
      ] as const) {
        const r = await stack.request(method, path, { token });
        expectProblem(r, 404);
        expect(r.body.detail, path).to.include(method);
      }
    });

    it('answers a method a known route does not take with 405 and the methods it does take', async () => {
      for (const [method, path, token, allow] of [
        ['POST', `/admin/instances/${existing.id}/jobs`, undefined, 'GET, HEAD'],
        ['PATCH', `/admin/instances/${existing.id}`, undefined, 'GET, PUT, DELETE, HEAD'],
        ['DELETE', '/admin/instances', undefined, 'GET, POST, HEAD'],
        ['PUT', `/admin/jobs/${existing.id}`, undefined, 'GET, HEAD'],
        ['GET', '/connect/token', null, 'POST'],
        ['POST', '/health/ready', null, 'GET, HEAD'],
      ] as const) {
        const r = await stack.request(method, path, { token });
        expectProblem(r, 405);
        expect(r.headers.get('allow'), `${method} ${path}`).to.equal(allow);
      }
    });

    it('asks for a token before saying whether an /admin route exists', async () => {
      const r = await stack.request('GET', '/admin/nope', { token: null });
      expectProblem(r, 401);
    });
  });

  describe('400 Bad Request', () => {
    it('lists every missing field', async () => {
      const r = await refusedWithoutChange(stack, 400, post({}));
      expectFieldErrors(r, ['instanceName', 'databaseName'], true);
      expectFieldErrors(
        await refusedWithoutChange(stack, 400, post({ instanceName: 'only a name' })),
        ['databaseName'],
        true,
      );
      expectFieldErrors(
        await refusedWithoutChange(stack, 400, post({ databaseName: stack.db('only_db') })),
        ['instanceName'],
        true,
      );
    });

    for (const [label, value] of [
      ['a number', 42],
      ['an array', ['x']],
      ['an object', { name: 'x' }],
      ['null', null],
      ['a boolean', true],
    ] as const) {
      it(`refuses ${label} where a string is expected, per field`, async () => {
        expectFieldErrors(
          await refusedWithoutChange(stack, 400, post({ ...valid('types'), instanceName: value })),
          ['instanceName'],
          true,
        );
        expectFieldErrors(
          await refusedWithoutChange(stack, 400, post({ ...valid('types'), databaseName: value })),
          ['databaseName'],
          true,
        );
        expectFieldErrors(
          await refusedWithoutChange(stack, 400, post({ instanceName: value, databaseName: value })),
          ['instanceName', 'databaseName'],
          true,
        );
      });
    }

    it('refuses unknown fields, naming each, so a typo or a smuggled status never passes', async () => {
      const r = await refusedWithoutChange(
        stack,
        400,
        post({ ...valid('unknown'), databasename: 'typo', status: 'Created', id: randomUUID() }),
      );
      expectFieldErrors(r, ['databasename', 'status', 'id'], true);
      const put = await refusedWithoutChange(stack, 400, () =>
        stack.request('PUT', `/admin/instances/${existing.id}`, { body: { instanceName: 'x', engine: 'sqlserver' } }),
      );
      expectFieldErrors(put, ['engine'], true);
    });

    for (const [label, name] of [
      ['empty', ''],
      ['blank', '   '],
      ['a tab only', '\t'],
      ['a NUL', 'Grand\u0000Bend'],
      ['a newline', 'Grand\nBend'],
      ['a DEL', 'Grand\u007fBend'],
      ['a C1 control', 'Grand\u0085Bend'],
      ['a line separator', 'Grand\u2028Bend'],
      ['101 characters', 'x'.repeat(101)],
    ] as const) {
      it(`refuses an instanceName that is ${label}`, async () => {
        expectFieldErrors(
          await refusedWithoutChange(stack, 400, post({ ...valid('iname'), instanceName: name })),
          ['instanceName'],
          true,
        );
      });
    }

    it('accepts an instanceName of printable Unicode', async () => {
      const r = await stack.request('POST', '/admin/instances', {
        body: { ...valid('unicode'), instanceName: `Zürich École 北京 ${stack.id}` },
      });
      expect(r.status).to.equal(201);
      expect(r.body.instanceName).to.equal(`Zürich École 北京 ${stack.id}`);
    });

    for (const [label, name] of [
      ['a hyphen', 'bad-name'],
      ['a space', 'bad name'],
      ['a double quote', 'bad"name'],
      ['a semicolon', 'x;DROP DATABASE postgres'],
      ['a dot', 'bad.name'],
      ['non-ASCII letters', 'naïve_db'],
      ['a leading digit', '1edfi'],
      ['a leading underscore', '_edfi'],
      ['nothing', ''],
    ] as const) {
      it(`refuses a databaseName with ${label}`, async () => {
        expectFieldErrors(
          await refusedWithoutChange(stack, 400, post({ ...valid('dname'), databaseName: name })),
          ['databaseName'],
          true,
        );
      });
    }

    it('refuses a databaseName of 64 bytes, which PostgreSQL would silently truncate', async () => {
      const name = stack.db('').padEnd(64, 'x');
      const r = await refusedWithoutChange(stack, 400, post({ ...valid('long'), databaseName: name }));
      expectFieldErrors(r, ['databaseName'], true);
      expect(r.body.errors.databaseName.join(' ')).to.match(/63/);
    });

    it('accepts a databaseName of exactly 63 bytes and creates that exact database', async () => {
      const name = stack.db('').padEnd(63, 'y');
      const r = await stack.request('POST', '/admin/instances', { body: { ...valid('max'), databaseName: name } });
      expect(r.status).to.equal(201);
      const done = await stack.waitForStatus(r.body.id, 'Created');
      expect(done.databaseName).to.equal(name);
      expect(await databaseExists(name)).to.equal(true);
    });

    it('refuses reserved names in any letter case', async () => {
      const admin = new URL(stack.env.ADMIN_DATABASE_URL).pathname.slice(1);
      const template = stack.apiConfig.ods.templateDatabase;
      const reserved = [
        'postgres',
        'POSTGRES',
        'Postgres',
        'template0',
        'template1',
        'TEMPLATE1',
        'Template1',
        admin,
        admin.toUpperCase(),
        template,
        template.toUpperCase(),
        'EdFi_Admin',
        'edfi_admin',
        'EDFI_ADMIN',
        'EdFi_Security',
        'rdsadmin',
        'azure_maintenance',
        'cloudsqladmin',
      ];
      for (const name of reserved) {
        const r = await refusedWithoutChange(stack, 400, post({ ...valid('reserved'), databaseName: name }));
        expectFieldErrors(r, ['databaseName'], true);
        expect(r.body.errors.databaseName.join(' '), name).to.match(/reserved/);
      }
    });

    it('refuses names starting with odsim_staging_, which only the worker uses', async () => {
      for (const name of ['odsim_staging_x', 'ODSIM_STAGING_abc', 'Odsim_Staging_0123456789abcdef']) {
        const r = await refusedWithoutChange(stack, 400, post({ ...valid('staging'), databaseName: name }));
        expectFieldErrors(r, ['databaseName'], true);
        expect(r.body.errors.databaseName.join(' '), name).to.include('odsim_staging_');
      }
    });

    it('refuses a rename to a reserved or malformed name', async () => {
      for (const name of ['postgres', 'bad-name', 'odsim_staging_x', stack.db('').padEnd(64, 'z')]) {
        const r = await refusedWithoutChange(stack, 400, () =>
          stack.request('PUT', `/admin/instances/${existing.id}`, { body: { databaseName: name } }),
        );
        expectFieldErrors(r, ['databaseName'], true);
      }
    });

    it('refuses malformed JSON', async () => {
      for (const raw of ['{"instanceName": "x", ', '{instanceName: "x"}', "{'a': 1}", '{"a":1}}']) {
        const r = await refusedWithoutChange(stack, 400, () =>
          stack.request('POST', '/admin/instances', { rawBody: raw }),
        );
        expect(r.body.detail).to.match(/JSON/);
        expect(r.body.detail).not.to.include('Unexpected'); // the parser's own words stay inside
      }
    });

    it('refuses a JSON body that is not an object', async () => {
      const array = await refusedWithoutChange(stack, 400, () =>
        stack.request('POST', '/admin/instances', { rawBody: JSON.stringify([valid('array')]) }),
      );
      expect(array.body.detail).to.match(/object/);
      for (const raw of ['"a string"', '42', 'null', 'true']) {
        await refusedWithoutChange(stack, 400, () => stack.request('POST', '/admin/instances', { rawBody: raw }));
      }
      await refusedWithoutChange(stack, 400, () =>
        stack.request('PUT', `/admin/instances/${existing.id}`, { rawBody: '[]' }),
      );
    });

    it('refuses a PUT with an empty object', async () => {
      const r = await refusedWithoutChange(stack, 400, () =>
        stack.request('PUT', `/admin/instances/${existing.id}`, { body: {} }),
      );
      expectFieldErrors(r, ['body'], true);
    });

    it('refuses a POST with no body at all', async () => {
      const r = await refusedWithoutChange(stack, 400, () => stack.request('POST', '/admin/instances'));
      expect(r.body.detail).to.match(/object/);
    });

    for (const [query, field] of [
      ['limit=0', 'limit'],
      ['limit=501', 'limit'],
      ['limit=abc', 'limit'],
      ['limit=1.5', 'limit'],
      ['offset=-1', 'offset'],
      ['limit=', 'limit'],
      ['limit=0x10', 'limit'],
      ['offset=1e2', 'offset'],
      ['limit=%2010', 'limit'],
      ['status=Nope', 'status'],
      ['status=created', 'status'],
      ['includeDeleted=yes', 'includeDeleted'],
      ['sort=name', 'sort'],
    ] as const) {
      it(`refuses the list query ${query}, naming ${field}`, async () => {
        const r = await refusedWithoutChange(stack, 400, () => stack.request('GET', `/admin/instances?${query}`));
        expectFieldErrors(r, [field], true);
      });
    }

    it('accepts the list query at its bounds', async () => {
      for (const query of ['limit=1', 'limit=500', 'offset=0', 'status=Created', 'includeDeleted=true']) {
        expect((await stack.request('GET', `/admin/instances?${query}`)).status, query).to.equal(200);
      }
    });
  });

  describe('413 and 415', () => {
    it('refuses a body larger than the limit (16kb) with 413', async () => {
      const r = await refusedWithoutChange(stack, 413, post({ ...valid('huge'), instanceName: 'x'.repeat(17 * 1024) }));
      expect(r.body.title).to.match(/too large/i);
      // Just under the limit is read and judged on its content instead.
      expectFieldErrors(
        await refusedWithoutChange(stack, 400, post({ ...valid('big'), instanceName: 'x'.repeat(15 * 1024) })),
        ['instanceName'],
        true,
      );
    });

    it('refuses a text/plain body on POST and PUT with 415', async () => {
      const body = JSON.stringify(valid('plain'));
      const r = await refusedWithoutChange(stack, 415, () =>
        stack.request('POST', '/admin/instances', { rawBody: body, contentType: 'text/plain' }),
      );
      expect(r.body.detail).to.include('application/json');
      await refusedWithoutChange(stack, 415, () =>
        stack.request('PUT', `/admin/instances/${existing.id}`, {
          rawBody: '{"instanceName":"x"}',
          contentType: 'text/plain',
        }),
      );
    });

    it('refuses a form-encoded body on POST with 415', async () => {
      await refusedWithoutChange(stack, 415, () =>
        stack.request('POST', '/admin/instances', {
          rawBody: new URLSearchParams(valid('form')).toString(),
          contentType: 'application/x-www-form-urlencoded',
        }),
      );
    });

    it('accepts application/json with a charset and application/*+json', async () => {
      const a = await stack.request('POST', '/admin/instances', {
        rawBody: JSON.stringify(valid('charset')),
        contentType: 'application/json; charset=utf-8',
      });
      expect(a.status, JSON.stringify(a.body)).to.equal(201);
      const b = await stack.request('POST', '/admin/instances', {
        rawBody: JSON.stringify(valid('plusjson')),
        contentType: 'application/vnd.odsim+json',
      });
      expect(b.status, JSON.stringify(b.body)).to.equal(201);
    });
  });

  describe('409 Conflict', () => {
    let first: { id: string; instanceName: string; databaseName: string };
    before(async () => {
      const r = await stack.request('POST', '/admin/instances', {
        body: { instanceName: `Taken ${stack.id}`, databaseName: stack.db('taken') },
      });
      expect(r.status).to.equal(201);
      first = r.body;
    });

    it('refuses an instanceName already used, in any letter case', async () => {
      for (const instanceName of [
        first.instanceName,
        first.instanceName.toUpperCase(),
        first.instanceName.toLowerCase(),
      ]) {
        const r = await refusedWithoutChange(stack, 409, post({ instanceName, databaseName: stack.db('taken_other') }));
        expect(r.body.detail).to.match(/instanceName/);
      }
    });

    it('refuses a databaseName already used, in any letter case', async () => {
      for (const databaseName of [
        first.databaseName,
        first.databaseName.toUpperCase(),
        `T${first.databaseName.slice(1)}`,
      ]) {
        const r = await refusedWithoutChange(
          stack,
          409,
          post({ instanceName: `Other ${stack.id} ${databaseName}`, databaseName }),
        );
        expect(r.body.detail).to.match(/databaseName/);
      }
    });

    it('refuses renaming another instance to a used instanceName or databaseName', async () => {
      const other = await stack.createInstance('taken_rename');
      const before = (await stack.request('GET', `/admin/instances/${other.id}`)).body;
      const byName = await refusedWithoutChange(stack, 409, () =>
        stack.request('PUT', `/admin/instances/${other.id}`, {
          body: { instanceName: first.instanceName.toUpperCase() },
        }),
      );
      expect(byName.body.detail).to.match(/instanceName/);
      const byDb = await refusedWithoutChange(stack, 409, () =>
        stack.request('PUT', `/admin/instances/${other.id}`, {
          body: { databaseName: first.databaseName.toUpperCase() },
        }),
      );
      expect(byDb.body.detail).to.match(/databaseName/);
      expect((await stack.request('GET', `/admin/instances/${other.id}`)).body).to.deep.equal(before);
    });

    it('refuses DELETE and PUT of an instance already deleted', async () => {
      const gone = await stack.createInstance('already_deleted');
      expect((await stack.request('DELETE', `/admin/instances/${gone.id}`)).status).to.equal(200);
      await stack.waitForStatus(gone.id, 'Deleted');
      const again = await refusedWithoutChange(stack, 409, () =>
        stack.request('DELETE', `/admin/instances/${gone.id}`),
      );
      expect(again.body.detail).to.match(/deleted/);
      await refusedWithoutChange(stack, 409, () =>
        stack.request('PUT', `/admin/instances/${gone.id}`, { body: { databaseName: stack.db('resurrected') } }),
      );
      await refusedWithoutChange(stack, 409, () =>
        stack.request('PUT', `/admin/instances/${gone.id}`, { body: { instanceName: `Resurrected ${stack.id}` } }),
      );
      expect((await stack.request('GET', `/admin/instances/${gone.id}`)).body.status).to.equal('Deleted');
    });
  });
});

describe('409 while a job is unfinished', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ worker: false });
  });
  after(async () => stack?.stop());

  it('refuses DELETE and rename while the create job is still queued', async () => {
    const r = await stack.request('POST', '/admin/instances', {
      body: { instanceName: `Queued ${stack.id}`, databaseName: stack.db('queued') },
    });
    expect(r.status).to.equal(201);
    const del = await refusedWithoutChange(stack, 409, () => stack.request('DELETE', `/admin/instances/${r.body.id}`));
    expect(del.body.detail).to.match(/unfinished/);
    const put = await refusedWithoutChange(stack, 409, () =>
      stack.request('PUT', `/admin/instances/${r.body.id}`, { body: { databaseName: stack.db('queued_2') } }),
    );
    expect(put.body.detail).to.match(/unfinished/);
    const jobs = await stack.dataSource.getRepository(JobEntity).findBy({ instanceId: r.body.id });
    expect(jobs.map((j) => `${j.type}:${j.status}`)).to.deep.equal(['create:queued']);
  });

  it('accepts exactly one of several simultaneous DELETEs, then refuses DELETE and PUT while it is queued', async () => {
    await stack.startWorker();
    const instance = await stack.createInstance('busy');
    await stack.stopWorkers();

    const answers = await Promise.all(
      Array.from({ length: 5 }, () => stack.request('DELETE', `/admin/instances/${instance.id}`)),
    );
    expect(answers.map((a) => a.status).sort()).to.deep.equal([200, 409, 409, 409, 409]);
    for (const a of answers.filter((x) => x.status === 409)) expectProblem(a, 409);

    await refusedWithoutChange(stack, 409, () => stack.request('DELETE', `/admin/instances/${instance.id}`));
    await refusedWithoutChange(stack, 409, () =>
      stack.request('PUT', `/admin/instances/${instance.id}`, { body: { databaseName: stack.db('busy_2') } }),
    );
    const jobs = await stack.dataSource
      .getRepository(JobEntity)
      .find({ where: { instanceId: instance.id }, order: { createdAt: 'ASC' } });
    expect(jobs.map((j) => `${j.type}:${j.status}`)).to.deep.equal(['create:succeeded', 'delete:queued']);
    expect((await stack.request('GET', `/admin/instances/${instance.id}`)).body.status).to.equal('PendingDelete');
  });
});

describe('503 when the admin database is unreachable', () => {
  let stack: Stack;
  let proxy: TcpProxy;
  let cutDataSource: DataSource;
  let api: Awaited<ReturnType<typeof listenApp>>;
  before(async () => {
    stack = await startStack({ worker: false });
    // A second API on the same admin database, reached through a proxy: up at start-up, then cut.
    proxy = await new TcpProxy(Number(new URL(POSTGRES_URL).port || 5432), new URL(POSTGRES_URL).hostname).start();
    const url = new URL(stack.env.ADMIN_DATABASE_URL);
    url.host = `127.0.0.1:${proxy.port}`;
    const config: ApiConfig = {
      ...stack.apiConfig,
      adminDatabase: { ...stack.apiConfig.adminDatabase, url: url.toString() },
    };
    cutDataSource = createAdminDataSource(config.adminDatabase);
    await cutDataSource.initialize();
    const redis = redisConnection(REDIS_URL, { enableOfflineQueue: false });
    redis.on('error', () => undefined);
    api = await listenApp(stack, { config, dataSource: cutDataSource, redis });
    expect((await call(api.baseUrl, 'GET', '/admin/instances', stack.tokens.full)).status).to.equal(200);
    proxy.cutOff();
  });
  after(async () => {
    await api?.close();
    await proxy?.stop();
    if (cutDataSource?.isInitialized) await cutDataSource.destroy().catch(() => undefined);
    await stack?.stop();
  });

  async function expectFast503(r: () => Promise<HttpResult>, what: string): Promise<HttpResult> {
    const { value, ms } = await timed(r);
    expectProblem(value, 503);
    expect(Number(value.headers.get('retry-after')), what).to.be.greaterThan(0);
    expect(value.body.detail, what).to.match(/admin database/);
    expect(value.body.detail, what).not.to.match(/127\.0\.0\.1|ECONN|postgres:\/\/|terminated/);
    expect(ms, what).to.be.lessThan(3000);
    return value;
  }

  it('answers GET /admin/instances with a fast 503 problem+json and Retry-After', async () => {
    await expectFast503(() => call(api.baseUrl, 'GET', '/admin/instances', stack.tokens.full), 'GET /admin/instances');
  });

  it('answers writes, reads by id and token requests with 503 too, writing nothing', async () => {
    for (const [method, path, body] of [
      ['POST', '/admin/instances', { instanceName: `Down ${stack.id}`, databaseName: stack.db('down') }],
      ['GET', `/admin/instances/${randomUUID()}`, undefined],
      ['GET', `/admin/jobs/${randomUUID()}`, undefined],
      ['POST', '/connect/token', { grant_type: 'client_credentials', client_id: 'odsim_x', client_secret: 'y' }],
    ] as const) {
      await expectFast503(
        () => call(api.baseUrl, method, path, path.startsWith('/admin') ? stack.tokens.full : null, body),
        `${method} ${path}`,
      );
    }
    expect(await stack.dataSource.getRepository(InstanceEntity).countBy({ databaseName: stack.db('down') })).to.equal(
      0,
    );
  });

  it('still checks the token before anything else', async () => {
    expectProblem(await call(api.baseUrl, 'GET', '/admin/instances', null), 401);
  });

  it('reports not ready, with adminDatabase down and redis up', async () => {
    const { value: r, ms } = await timed(() => call(api.baseUrl, 'GET', '/health/ready', null));
    expect(r.status).to.equal(503);
    expect(r.body).to.deep.equal({ status: 'down', checks: { adminDatabase: 'down', redis: 'up' } });
    expect(ms).to.be.lessThan(3000);
    expect((await call(api.baseUrl, 'GET', '/health/live', null)).status).to.equal(200);
  });

  it('recovers by itself once the database answers again', async () => {
    proxy.restore();
    const r = await waitFor(
      async () => {
        const answer = await call(api.baseUrl, 'GET', '/admin/instances', stack.tokens.full);
        return answer.status === 200 ? answer : undefined;
      },
      'the API to answer again',
      10_000,
    );
    expect(r.body).to.be.an('array');
    expect((await call(api.baseUrl, 'GET', '/health/ready', null)).status).to.equal(200);
  });

  it('answers 503 just as fast when the port is closed (connection refused)', async () => {
    await proxy.stop();
    await expectFast503(
      () => call(api.baseUrl, 'GET', '/admin/instances', stack.tokens.full),
      'GET /admin/instances, port closed',
    );
    await expectFast503(
      () =>
        call(api.baseUrl, 'POST', '/admin/instances', stack.tokens.full, {
          instanceName: `Closed ${stack.id}`,
          databaseName: stack.db('closed'),
        }),
      'POST, port closed',
    );
    const ready = await call(api.baseUrl, 'GET', '/health/ready', null);
    expect(ready.status).to.equal(503);
    expect(ready.body.checks).to.deep.equal({ adminDatabase: 'down', redis: 'up' });
  });
});

describe('Redis unreachable', () => {
  let stack: Stack;
  let api: Awaited<ReturnType<typeof listenApp>>;
  before(async () => {
    stack = await startStack({ worker: false });
    const config: ApiConfig = { ...stack.apiConfig, redis: { ...stack.apiConfig.redis, url: 'redis://127.0.0.1:1' } };
    const redis = redisConnection(config.redis.url, { enableOfflineQueue: false });
    redis.on('error', () => undefined);
    api = await listenApp(stack, { config, dataSource: stack.dataSource, redis });
  });
  after(async () => {
    await api?.close();
    await stack?.stop();
  });

  it('still accepts a create within a couple of seconds, keeps the job queued, and a worker later finishes it', async () => {
    const body = { instanceName: `No Redis ${stack.id}`, databaseName: stack.db('no_redis') };
    const { value: created, ms } = await timed(() =>
      call(api.baseUrl, 'POST', '/admin/instances', stack.tokens.full, body),
    );
    expect(created.status, JSON.stringify(created.body)).to.equal(201);
    expect(ms).to.be.lessThan(2500);
    expect(created.body).to.include({ status: 'PendingCreate', databaseName: body.databaseName });
    const jobId: string = created.body.job.id;
    expect((await stack.dataSource.getRepository(JobEntity).findOneByOrFail({ id: jobId })).status).to.equal('queued');

    // Reads need no Redis.
    expect((await call(api.baseUrl, 'GET', `/admin/instances/${created.body.id}`, stack.tokens.full)).status).to.equal(
      200,
    );

    // The real Redis never saw the job: only the row remembers it.
    const probe = redisConnection(REDIS_URL);
    probe.on('error', () => undefined);
    const queue = createQueue(probe, stack.apiConfig.redis.prefix, stack.deploymentId);
    try {
      expect(await queue.getJobState(jobId)).to.equal('unknown');
    } finally {
      await queue.close();
      probe.disconnect();
    }

    // A worker on the real Redis, same admin database and queue prefix: its reconciler enqueues the row.
    await stack.startWorker();
    const done = await stack.waitForStatus(created.body.id, 'Created');
    expect(done.job).to.include({ id: jobId, status: 'succeeded' });
    expect(await databaseExists(body.databaseName)).to.equal(true);
  });

  it('reports not ready, with redis down and adminDatabase up, without hanging', async () => {
    const { value: r, ms } = await timed(() => call(api.baseUrl, 'GET', '/health/ready', null));
    expect(r.status).to.equal(503);
    expect(r.body).to.deep.equal({ status: 'down', checks: { adminDatabase: 'up', redis: 'down' } });
    expect(ms).to.be.lessThan(3000);
  });
});
