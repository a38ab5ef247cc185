import { execFile } from 'node:child_process';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { decodeJwt, decodeProtectedHeader, SignJWT } from 'jose';
import { ClientStore, NewClient } from '../../api/auth/clients';
import { SCOPES } from '../../api/auth/scopes';
import { TokenService, TokenSettings } from '../../api/auth/tokens';
import { ApiClientEntity, AuditEventEntity } from '../../shared/database/entities';
import { createLogger } from '../../shared/logger';
import { CapturedLog } from '../support/log-capture';
import { postToken } from '../support/token-requests';
import { HttpResult, Stack, startStack } from '../support/stack';
import { waitFor } from '../support/wait';

const run = promisify(execFile);
const CLI = path.resolve(__dirname, '../../api/cli.js');

function expectProblem(r: HttpResult, status: number): void {
  expect(r.status, JSON.stringify(r.body)).to.equal(status);
  expect(r.headers.get('content-type')).to.match(/^application\/problem\+json/);
  expect(r.body).to.be.an('object');
  expect(r.body.type).to.be.a('string');
  expect(r.body.title).to.be.a('string').and.not.empty;
  expect(r.body.status).to.equal(status);
  expect(r.body.detail).to.be.a('string').and.not.empty;
}

/** A refusal from the token endpoint: problem+json carrying OAuth's `error` member. */
function expectOAuthRefusal(r: HttpResult, status: number, error: string): void {
  expectProblem(r, status);
  expect(r.body.error).to.equal(error);
  expect(r.body).not.to.have.property('access_token');
}

function form(fields: Record<string, string>): { rawBody: string; contentType: string } {
  return { rawBody: new URLSearchParams(fields).toString(), contentType: 'application/x-www-form-urlencoded' };
}

function basic(clientId: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

function tokenRequest(
  stack: Stack,
  fields: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<HttpResult> {
  return stack.request('POST', '/connect/token', { token: null, ...form(fields), headers });
}

function credentials(client: NewClient, extra: Record<string, string> = {}): Record<string, string> {
  return {
    grant_type: 'client_credentials',
    client_id: client.client_id,
    client_secret: client.client_secret,
    ...extra,
  };
}

const decodePart = (part: string) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
const encodePart = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A token with exactly this header and payload, correctly signed with `key` (HS256), by hand. */
function signedByHand(header: unknown, payload: unknown, key: string): string {
  const input = `${encodePart(header)}.${encodePart(payload)}`;
  return `${input}.${createHmac('sha256', key).update(input).digest('base64url')}`;
}

function withSignatureCharChanged(token: string): string {
  const [header, payload, signature] = token.split('.');
  if (signature === undefined) throw new Error('not a JWT: no signature part');
  const i = Math.floor(signature.length / 2); // a middle character: every bit of it counts
  const changed = signature[i] === 'A' ? 'B' : 'A';
  return [header, payload, signature.slice(0, i) + changed + signature.slice(i + 1)].join('.');
}

describe('authentication and authorization', () => {
  let stack: Stack;
  let full: NewClient;
  let read: NewClient;
  before(async () => {
    // A short client-check window, so that a test can see a disabled client's token refused.
    stack = await startStack({ worker: false, env: { TOKEN_CLIENT_CHECK_CACHE_MS: '200' } });
    const clients = new ClientStore(stack.dataSource);
    full = await clients.create('auth-test-full', SCOPES.fullAccess);
    read = await clients.create('auth-test-read', SCOPES.readOnly);
  });
  after(async () => stack?.stop());

  describe('POST /connect/token', () => {
    it('issues a bearer JWT for client credentials sent as a form', async () => {
      const r = await tokenRequest(stack, credentials(full));
      expect(r.status).to.equal(200);
      expect(r.headers.get('cache-control')).to.equal('no-store');
      expect(r.body).to.include({ token_type: 'bearer', expires_in: 1800, scope: SCOPES.fullAccess });
      expect(r.body.access_token).to.match(/^[\w-]+\.[\w-]+\.[\w-]+$/);
      expect(decodeProtectedHeader(r.body.access_token)).to.include({ alg: 'HS256', typ: 'JWT' });
      const claims = decodeJwt(r.body.access_token);
      expect(claims).to.include({
        sub: full.client_id,
        scope: SCOPES.fullAccess,
        iss: stack.apiConfig.tokens.issuer,
        aud: stack.apiConfig.tokens.audience,
      });
      expect(claims.exp! - claims.iat!).to.equal(1800);
      expect(claims.exp! * 1000).to.be.closeTo(Date.now() + 1_800_000, 10_000);
      expect(claims.jti).to.be.a('string');
      expect(JSON.stringify(r.body)).not.to.include(full.client_secret);
    });

    it('issues a token for client credentials sent as JSON', async () => {
      const r = await stack.request('POST', '/connect/token', { token: null, body: credentials(read) });
      expect(r.status).to.equal(200);
      expect(r.headers.get('cache-control')).to.equal('no-store');
      expect(r.body).to.include({ token_type: 'bearer', expires_in: 1800, scope: SCOPES.readOnly });
      expect(decodeJwt(r.body.access_token).sub).to.equal(read.client_id);
    });

    it('issues a token for client credentials sent with HTTP Basic', async () => {
      const r = await tokenRequest(
        stack,
        { grant_type: 'client_credentials' },
        { authorization: basic(full.client_id, full.client_secret) },
      );
      expect(r.status).to.equal(200);
      expect(r.body).to.include({ token_type: 'bearer', expires_in: 1800, scope: SCOPES.fullAccess });
      expect(decodeJwt(r.body.access_token).sub).to.equal(full.client_id);
    });

    it('refuses a wrong secret with 401 invalid_client', async () => {
      const r = await tokenRequest(stack, credentials(full, { client_secret: `${full.client_secret}x` }));
      expectOAuthRefusal(r, 401, 'invalid_client');
    });

    it('refuses a wrong secret sent with HTTP Basic with 401 invalid_client', async () => {
      const r = await tokenRequest(
        stack,
        { grant_type: 'client_credentials' },
        { authorization: basic(full.client_id, 'not-the-secret') },
      );
      expectOAuthRefusal(r, 401, 'invalid_client');
    });

    it('refuses an unknown client with 401 invalid_client, as it refuses a wrong secret', async () => {
      const r = await tokenRequest(stack, {
        grant_type: 'client_credentials',
        client_id: 'odsim_nobody',
        client_secret: full.client_secret,
      });
      expectOAuthRefusal(r, 401, 'invalid_client');
      const wrongSecret = await tokenRequest(stack, credentials(full, { client_secret: 'wrong' }));
      expect(r.body.detail).to.equal(wrongSecret.body.detail);
    });

    it('refuses a disabled client with 401 invalid_client', async () => {
      const clients = new ClientStore(stack.dataSource);
      const gone = await clients.create('auth-test-disabled', SCOPES.fullAccess);
      expect((await tokenRequest(stack, credentials(gone))).status).to.equal(200);
      await clients.disable(gone.client_id);
      expectOAuthRefusal(await tokenRequest(stack, credentials(gone)), 401, 'invalid_client');
    });

    it('refuses a request without client_id or client_secret with 400 invalid_request', async () => {
      expectOAuthRefusal(
        await tokenRequest(stack, { grant_type: 'client_credentials', client_id: full.client_id }),
        400,
        'invalid_request',
      );
      expectOAuthRefusal(
        await tokenRequest(stack, { grant_type: 'client_credentials', client_secret: full.client_secret }),
        400,
        'invalid_request',
      );
      expectOAuthRefusal(await tokenRequest(stack, { grant_type: 'client_credentials' }), 400, 'invalid_request');
    });

    it('refuses a request without grant_type with 400 invalid_request', async () => {
      const r = await tokenRequest(stack, { client_id: full.client_id, client_secret: full.client_secret });
      expectOAuthRefusal(r, 400, 'invalid_request');
    });

    it('refuses a field that is not a string with 400 invalid_request', async () => {
      const r = await stack.request('POST', '/connect/token', {
        token: null,
        body: { grant_type: 'client_credentials', client_id: [full.client_id], client_secret: full.client_secret },
      });
      expectOAuthRefusal(r, 400, 'invalid_request');
    });

    it('refuses a malformed HTTP Basic header with 400 invalid_request, never a server error', async () => {
      const malformed = `Basic ${Buffer.from(`${full.client_id}:%E0%A4%A`).toString('base64')}`;
      const r = await tokenRequest(stack, { grant_type: 'client_credentials' }, { authorization: malformed });
      expectOAuthRefusal(r, 400, 'invalid_request');
    });

    for (const grantType of [
      'password',
      'authorization_code',
      'refresh_token',
      'urn:ietf:params:oauth:grant-type:jwt-bearer',
      'CLIENT_CREDENTIALS',
    ]) {
      it(`refuses grant_type ${grantType} with 400 unsupported_grant_type`, async () => {
        const r = await tokenRequest(stack, credentials(full, { grant_type: grantType }));
        expectOAuthRefusal(r, 400, 'unsupported_grant_type');
      });
    }

    it('refuses a scope no client can have with 400 invalid_scope', async () => {
      expectOAuthRefusal(
        await tokenRequest(stack, credentials(full, { scope: 'edfi_admin_api/superuser' })),
        400,
        'invalid_scope',
      );
      expectOAuthRefusal(
        await tokenRequest(stack, credentials(full, { scope: `${SCOPES.fullAccess} openid` })),
        400,
        'invalid_scope',
      );
    });

    it('refuses an empty scope with 400 invalid_scope', async () => {
      expectOAuthRefusal(await tokenRequest(stack, credentials(full, { scope: ' ' })), 400, 'invalid_scope');
    });

    it('refuses full_access to a read-only client with 400 invalid_scope', async () => {
      const r = await tokenRequest(stack, credentials(read, { scope: SCOPES.fullAccess }));
      expectOAuthRefusal(r, 400, 'invalid_scope');
      const both = await tokenRequest(stack, credentials(read, { scope: `${SCOPES.readOnly} ${SCOPES.fullAccess}` }));
      expectOAuthRefusal(both, 400, 'invalid_scope');
    });
    it('gives a full-access client a read-only token when it asks for less', async () => {
      const r = await tokenRequest(stack, credentials(full, { scope: SCOPES.readOnly }));
      expect(r.status).to.equal(200);
      expect(r.body.scope).to.equal(SCOPES.readOnly);
      const write = await stack.request('POST', '/admin/instances', {
        token: r.body.access_token,
        body: { instanceName: 'x', databaseName: 'x' },
      });
      expect(write.status).to.equal(403);
    });
  });

  describe('bearer tokens on /admin', () => {
    let instanceId: string;
    before(async () => {
      const created = await stack.request('POST', '/admin/instances', {
        body: { instanceName: `Auth ${stack.id}`, databaseName: stack.db('auth_target') },
      });
      expect(created.status).to.equal(201);
      instanceId = created.body.id;
    });

    const signer = (overrides: Partial<TokenSettings> = {}, key = stack.apiConfig.tokens.signingKey!) =>
      new TokenService(key, { ...stack.apiConfig.tokens, deploymentId: stack.deploymentId, ...overrides });
    const fullPrincipal = () => ({ clientId: full.client_id, scopes: [SCOPES.fullAccess] });

    function expectUnauthorized(r: HttpResult): void {
      expectProblem(r, 401);
      expect(r.headers.get('www-authenticate')).to.match(/^Bearer/);
    }

    it('refuses a request without a token with 401 and WWW-Authenticate: Bearer', async () => {
      const r = await stack.request('GET', '/admin/instances', { token: null });
      expectUnauthorized(r);
      expect(r.headers.get('www-authenticate')).to.equal('Bearer');
    });

    it('refuses a token sent under another scheme', async () => {
      const r = await stack.request('GET', '/admin/instances', {
        token: null,
        headers: { authorization: basic(full.client_id, full.client_secret) },
      });
      expectUnauthorized(r);
    });

    it('refuses a token that is not a JWT', async () => {
      expectUnauthorized(await stack.request('GET', '/admin/instances', { token: 'not-a-jwt' }));
    });

    it('refuses an expired token, saying it has expired', async () => {
      const expired = signer().issue(fullPrincipal(), -60).access_token;
      const r = await stack.request('GET', '/admin/instances', { token: expired });
      expectUnauthorized(r);
      expect(r.headers.get('www-authenticate')).to.equal('Bearer error="invalid_token"');
      expect(r.body.detail).to.match(/expired/i);
    });

    it('refuses a read-only token whose payload was changed to claim full access', async () => {
      const [header, payload, signature] = stack.tokens.read.split('.');
      if (payload === undefined) throw new Error('the read-only token is not a JWT');
      const claims = decodePart(payload);
      expect(claims.scope).to.equal(SCOPES.readOnly);
      const forged = [header, encodePart({ ...claims, scope: SCOPES.fullAccess }), signature].join('.');
      const r = await stack.request('POST', '/admin/instances', {
        token: forged,
        body: { instanceName: 'forged', databaseName: stack.db('forged') },
      });
      expectUnauthorized(r);
      expect(r.body.detail).not.to.match(/expired/i);
    });

    it('refuses a token whose signature was changed', async () => {
      const r = await stack.request('GET', '/admin/instances', { token: withSignatureCharChanged(stack.tokens.full) });
      expectUnauthorized(r);
    });

    it('refuses a token signed with a different key', async () => {
      const other = signer({}, randomBytes(32).toString('hex')).issue(fullPrincipal()).access_token;
      expectUnauthorized(await stack.request('GET', '/admin/instances', { token: other }));
    });

    it('refuses a token signed with alg none', async () => {
      const now = Math.floor(Date.now() / 1000);
      const unsigned = [
        encodePart({ alg: 'none', typ: 'JWT' }),
        encodePart({
          sub: full.client_id,
          scope: SCOPES.fullAccess,
          iss: stack.apiConfig.tokens.issuer,
          aud: stack.apiConfig.tokens.audience,
          iat: now,
          exp: now + 600,
        }),
        '',
      ].join('.');
      expectUnauthorized(await stack.request('GET', '/admin/instances', { token: unsigned }));
      const r = await stack.request('POST', '/admin/instances', {
        token: unsigned,
        body: { instanceName: 'unsigned', databaseName: stack.db('unsigned') },
      });
      expectUnauthorized(r);
    });

    it('refuses a token signed with the right key but another algorithm (HS512)', async () => {
      const token = await new SignJWT({ scope: SCOPES.fullAccess })
        .setProtectedHeader({ alg: 'HS512', typ: 'JWT' })
        .setSubject(full.client_id)
        .setIssuer(stack.apiConfig.tokens.issuer)
        .setAudience(stack.apiConfig.tokens.audience)
        .setIssuedAt()
        .setExpirationTime('10m')
        .sign(new TextEncoder().encode(stack.apiConfig.tokens.signingKey));
      expectUnauthorized(await stack.request('GET', '/admin/instances', { token }));
    });

    it('refuses a token for another audience', async () => {
      const token = signer({ audience: 'some-other-api' }).issue(fullPrincipal()).access_token;
      expectUnauthorized(await stack.request('GET', '/admin/instances', { token }));
    });

    it('refuses a token from another issuer', async () => {
      const token = signer({ issuer: 'https://someone-else.example' }).issue(fullPrincipal()).access_token;
      expectUnauthorized(await stack.request('GET', '/admin/instances', { token }));
    });

    describe('a correctly signed token that is not exactly what we issue', () => {
      const goodClaims = () => {
        const now = Math.floor(Date.now() / 1000);
        return {
          sub: full.client_id,
          scope: SCOPES.fullAccess,
          iss: stack.apiConfig.tokens.issuer,
          aud: stack.apiConfig.tokens.audience,
          iat: now,
          exp: now + 600,
          deployment_id: stack.deploymentId,
        };
      };
      const sign = (header: unknown, payload: unknown) =>
        signedByHand(header, payload, stack.apiConfig.tokens.signingKey!);

      it('is accepted when header and claims are exactly ours (the hand-signer is right)', async () => {
        expect(
          (await stack.request('GET', '/admin/instances', { token: sign({ alg: 'HS256', typ: 'JWT' }, goodClaims()) }))
            .status,
        ).to.equal(200);
        expect(
          (await stack.request('GET', '/admin/instances', { token: sign({ alg: 'HS256' }, goodClaims()) })).status,
        ).to.equal(200);
      });

      const headers: [string, Record<string, unknown>][] = [
        ['crit', { alg: 'HS256', typ: 'JWT', crit: ['exp'] }],
        ['kid', { alg: 'HS256', typ: 'JWT', kid: '../../etc/passwd' }],
        ['jku', { alg: 'HS256', typ: 'JWT', jku: 'http://127.0.0.1:9/keys' }],
        ['jwk', { alg: 'HS256', typ: 'JWT', jwk: { kty: 'oct', k: 'AAAA' } }],
        ['b64 false', { alg: 'HS256', typ: 'JWT', b64: false }],
        ['typ other than JWT', { alg: 'HS256', typ: 'at+jwt' }],
        ['alg in another case', { alg: 'hs256', typ: 'JWT' }],
      ];
      for (const [what, header] of headers) {
        it(`is refused with a header carrying ${what}`, async () => {
          expectUnauthorized(await stack.request('GET', '/admin/instances', { token: sign(header, goodClaims()) }));
        });
      }

      const claims: [string, (c: ReturnType<typeof goodClaims>) => Record<string, unknown>][] = [
        ['no exp', ({ exp: _exp, ...c }) => c],
        ['exp as a string', (c) => ({ ...c, exp: String(c.exp) })],
        ['no sub', ({ sub: _sub, ...c }) => c],
        ['an empty sub', (c) => ({ ...c, sub: '' })],
        ['nbf in the future', (c) => ({ ...c, nbf: c.iat + 3600 })],
        ['iat in the future', (c) => ({ ...c, iat: c.iat + 3600 })],
        ['aud as an array', (c) => ({ ...c, aud: [c.aud] })],
        ['iss differing only in case', (c) => ({ ...c, iss: c.iss.toUpperCase() })],
        ['a scope that is not a string', (c) => ({ ...c, scope: [SCOPES.fullAccess] })],
        ['no deployment_id', ({ deployment_id: _d, ...c }) => c],
      ];
      for (const [what, change] of claims) {
        it(`is refused with ${what}`, async () => {
          expectUnauthorized(
            await stack.request('GET', '/admin/instances', {
              token: sign({ alg: 'HS256', typ: 'JWT' }, change(goodClaims())),
            }),
          );
        });
      }

      it('is refused when the payload is not a JSON object', async () => {
        expectUnauthorized(
          await stack.request('GET', '/admin/instances', { token: sign({ alg: 'HS256', typ: 'JWT' }, [goodClaims()]) }),
        );
      });
    });

    it('refuses a token of another deployment that shares the signing key', async () => {
      const key = new TextEncoder().encode(stack.apiConfig.tokens.signingKey);
      const claims = { scope: SCOPES.fullAccess, deployment_id: randomUUID() };
      const build = (c: Record<string, unknown>) =>
        new SignJWT(c)
          .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
          .setSubject(full.client_id)
          .setIssuer(stack.apiConfig.tokens.issuer)
          .setAudience(stack.apiConfig.tokens.audience)
          .setIssuedAt()
          .setExpirationTime('10m')
          .sign(key);
      expectUnauthorized(await stack.request('GET', '/admin/instances', { token: await build(claims) }));
      // The same token with this deployment's id passes: only the deployment differs.
      expect(
        (
          await stack.request('GET', '/admin/instances', {
            token: await build({ ...claims, deployment_id: stack.deploymentId }),
          })
        ).status,
      ).to.equal(200);
    });

    it('refuses the tokens of a client once it is disabled, within the client-check window', async function () {
      this.timeout(20_000);
      const clients = new ClientStore(stack.dataSource);
      const revoked = await clients.create('auth-test-revoked', SCOPES.fullAccess);
      const token = (await tokenRequest(stack, credentials(revoked))).body.access_token as string;
      expect((await stack.request('GET', '/admin/instances', { token })).status).to.equal(200);
      expect(await clients.disable(revoked.client_id)).to.equal(true);
      const refused = await waitFor(
        async () => {
          const r = await stack.request('GET', '/admin/instances', { token });
          return r.status === 401 ? r : undefined;
        },
        "the disabled client's token to be refused",
        5_000,
        50,
      );
      expectUnauthorized(refused);
      expect(refused.headers.get('www-authenticate')).to.equal('Bearer error="invalid_token"');
      // Other clients' tokens are unaffected.
      expect((await stack.request('GET', '/admin/instances')).status).to.equal(200);
    });

    it('accepts a token it signed itself with the stack key (the harness signs correctly)', async () => {
      const token = signer().issue(fullPrincipal()).access_token;
      expect((await stack.request('GET', '/admin/instances', { token })).status).to.equal(200);
    });

    it('lets a read-only token read instances and jobs', async () => {
      const list = await stack.request('GET', '/admin/instances', { token: stack.tokens.read });
      expect(list.status).to.equal(200);
      expect(list.body.map((i: { id: string }) => i.id)).to.include(instanceId);
      const one = await stack.request('GET', `/admin/instances/${instanceId}`, { token: stack.tokens.read });
      expect(one.status).to.equal(200);
      const job = await stack.request('GET', one.body._links.job.href, { token: stack.tokens.read });
      expect(job.status).to.equal(200);
      expect(
        (await stack.request('GET', `/admin/instances/${instanceId}/jobs`, { token: stack.tokens.read })).status,
      ).to.equal(200);
    });

    it('refuses POST, PUT and DELETE to a read-only token with 403, changing nothing', async () => {
      const before = (await stack.request('GET', `/admin/instances/${instanceId}`)).body;
      const post = await stack.request('POST', '/admin/instances', {
        token: stack.tokens.read,
        body: { instanceName: 'ro', databaseName: stack.db('ro') },
      });
      const put = await stack.request('PUT', `/admin/instances/${instanceId}`, {
        token: stack.tokens.read,
        body: { instanceName: 'ro renamed' },
      });
      const del = await stack.request('DELETE', `/admin/instances/${instanceId}`, { token: stack.tokens.read });
      for (const r of [post, put, del]) {
        expectProblem(r, 403);
        expect(r.headers.get('www-authenticate')).to.equal('Bearer error="insufficient_scope"');
        expect(r.body.detail).to.match(/full_access/);
      }
      const after = (await stack.request('GET', `/admin/instances/${instanceId}`)).body;
      expect(after).to.deep.equal(before);
      const names = (await stack.request('GET', '/admin/instances?limit=500')).body.map(
        (i: { instanceName: string }) => i.instanceName,
      );
      expect(names).not.to.include('ro');
    });

    it('lets a full-access token through to every write', async () => {
      const post = await stack.request('POST', '/admin/instances', {
        body: { instanceName: `Full ${stack.id}`, databaseName: stack.db('full_access') },
      });
      expect(post.status).to.equal(201);
      const put = await stack.request('PUT', `/admin/instances/${instanceId}`, {
        body: { instanceName: `Auth ${stack.id} renamed` },
      });
      expect(put.status).to.equal(200);
      expect(put.body.instanceName).to.equal(`Auth ${stack.id} renamed`);
      // Both are PendingCreate (no worker): DELETE is authorised, then refused for the unfinished job.
      const del = await stack.request('DELETE', `/admin/instances/${post.body.id}`);
      expectProblem(del, 409);
    });
  });

  describe('health', () => {
    it('answers GET /health/live with 200 without a token', async () => {
      const r = await stack.request('GET', '/health/live', { token: null });
      expect(r.status).to.equal(200);
      expect(r.body).to.deep.equal({ status: 'up' });
    });

    it('answers GET /health/ready with 200 when the admin database and Redis are up', async () => {
      const r = await stack.request('GET', '/health/ready', { token: null });
      expect(r.status).to.equal(200);
      expect(r.body).to.deep.equal({ status: 'up', checks: { adminDatabase: 'up', redis: 'up' } });
    });
  });

  describe('clients created with the CLI', () => {
    it('prints credentials that get a read-only token, which can read but not write', async () => {
      const name = `cli-${stack.id}`;
      const { stdout } = await run(
        process.execPath,
        [CLI, 'clients', 'create', '--name', name, '--scope', SCOPES.readOnly],
        {
          env: {
            ...process.env,
            NODE_ENV: 'test',
            ADMIN_DATABASE_URL: stack.env.ADMIN_DATABASE_URL,
            LOG_LEVEL: 'warn',
          },
          timeout: 60_000,
        },
      );
      const printed = JSON.parse(stdout.trim());
      expect(Object.keys(printed).sort()).to.deep.equal(['client_id', 'client_secret', 'scope']);
      expect(printed.scope).to.equal(SCOPES.readOnly);
      expect(printed.client_secret).to.be.a('string').with.length.greaterThan(30);

      const stored = await stack.dataSource
        .getRepository(ApiClientEntity)
        .findOneByOrFail({ clientId: printed.client_id });
      expect(stored.name).to.equal(name);
      expect(stored.secretHash).to.match(/^scrypt\$/);
      expect(stored.secretHash).not.to.include(printed.client_secret);

      const token = await tokenRequest(stack, {
        grant_type: 'client_credentials',
        client_id: printed.client_id,
        client_secret: printed.client_secret,
      });
      expect(token.status).to.equal(200);
      expect(token.body.scope).to.equal(SCOPES.readOnly);
      const list = await stack.request('GET', '/admin/instances', { token: token.body.access_token });
      expect(list.status).to.equal(200);
      expect(list.body).to.be.an('array');
      const post = await stack.request('POST', '/admin/instances', {
        token: token.body.access_token,
        body: { instanceName: 'cli', databaseName: stack.db('cli') },
      });
      expectProblem(post, 403);
    });
  });
});

describe('token endpoint rate limit', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ worker: false, env: { TOKEN_RATE_LIMIT_PER_MINUTE: '5' } });
  });
  after(async () => stack?.stop());

  it('answers 429 problem+json once a caller has made 5 token requests in a minute', async () => {
    const client = await new ClientStore(stack.dataSource).create('rate-limited', SCOPES.fullAccess);
    const first = await tokenRequest(stack, credentials(client));
    expect(first.status).to.equal(200);
    expect(first.headers.get('ratelimit-policy')).to.match(/^5;w=60/);
    const header = first.headers.get('ratelimit') ?? '';
    expect(header).to.match(/limit=5\b/);
    // The harness spent some of the budget on its own tokens; what remains must be exactly honoured.
    const remaining = Number(/remaining=(\d+)/.exec(header)?.[1]);
    expect(remaining).to.be.within(0, 4);
    for (let i = 0; i < remaining; i++) expect((await tokenRequest(stack, credentials(client))).status).to.equal(200);

    const refused = await tokenRequest(stack, credentials(client));
    expectProblem(refused, 429);
    expect(refused.body).not.to.have.property('access_token');
    expect(Number(refused.headers.get('retry-after'))).to.be.within(1, 60);
    // Wrong secrets count too: guessing is what the limit is for.
    expectProblem(await tokenRequest(stack, credentials(client, { client_secret: 'guess' })), 429);

    // Tokens already issued still work; only the token endpoint is limited.
    expect((await stack.request('GET', '/admin/instances', { token: first.body.access_token })).status).to.equal(200);
  });
});

describe('secrets in responses and logs', () => {
  let stack: Stack;
  let logText = '';
  before(async () => {
    const stream = new PassThrough();
    stream.on('data', (chunk: Buffer) => {
      logText += chunk.toString('utf8');
    });
    stack = await startStack({ logger: createLogger('api', 'debug', stream) });
  });
  after(async () => stack?.stop());

  it('never writes the client secret, the access token or the signing key to a response or a log line', async () => {
    const client = await new ClientStore(stack.dataSource).create('logged', SCOPES.fullAccess);
    const responses: HttpResult[] = [];
    const issued = await tokenRequest(stack, credentials(client));
    expect(issued.status).to.equal(200);
    const token: string = issued.body.access_token;
    responses.push(
      issued,
      await stack.request('POST', '/connect/token', { token: null, body: credentials(client) }),
      await tokenRequest(
        stack,
        { grant_type: 'client_credentials' },
        { authorization: basic(client.client_id, client.client_secret) },
      ),
      await tokenRequest(stack, credentials(client, { client_secret: `${client.client_secret}-wrong` })),
      await tokenRequest(stack, credentials(client, { grant_type: 'password', password: client.client_secret })),
      await tokenRequest(stack, credentials(client, { scope: 'nope' })),
    );
    const created = await stack.request('POST', '/admin/instances', {
      token,
      body: { instanceName: `Logged ${stack.id}`, databaseName: stack.db('logged') },
    });
    expect(created.status).to.equal(201);
    responses.push(
      created,
      await stack.request('GET', '/admin/instances', { token }),
      await stack.request('GET', `/admin/instances/${created.body.id}`, { token }),
      await stack.request('GET', '/admin/instances', { token: withSignatureCharChanged(token) }),
      await stack.request('GET', '/admin/instances', { token: `${token}x` }),
    );
    await stack.waitForStatus(created.body.id, 'Created');
    const requestCount = responses.length + 1; // and the readiness poll below
    await stack.request('GET', '/health/ready', { token: null });

    // Every request has its line (the worker's lines are in the same log).
    await waitFor(
      async () => (logText.match(/"event":"http\.request"/g) ?? []).length >= requestCount,
      'the request log lines',
    );
    await waitFor(async () => logText.includes('"event":"job.succeeded"'), "the worker's job.succeeded line");
    const lines = logText
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.filter((l) => l.event === 'http.request' && l.path === '/connect/token')).to.have.length.at.least(6);

    const tokenSignature = token.split('.')[2];
    if (tokenSignature === undefined) throw new Error('the access token is not a JWT');
    const neverLogged = {
      'the client secret': client.client_secret,
      'the Basic credentials': basic(client.client_id, client.client_secret).slice('Basic '.length),
      'the access token': token,
      'the access token signature': tokenSignature,
      'the harness token': stack.tokens.full,
      'the signing key': stack.apiConfig.tokens.signingKey!,
    };
    for (const [what, secret] of Object.entries(neverLogged)) {
      expect(logText.includes(secret), `${what} appears in the log`).to.equal(false);
    }
    const texts = responses.map((r) => (typeof r.body === 'string' ? r.body : JSON.stringify(r.body)));
    for (const text of texts) {
      expect(text).not.to.include(client.client_secret);
      expect(text).not.to.include(stack.apiConfig.tokens.signingKey!);
    }
    // Only the token response itself carries the token.
    for (const text of texts.slice(1)) expect(text).not.to.include(token);
  });
});

describe('token decisions in the log and the audit trail', () => {
  let stack: Stack;
  const log = new CapturedLog('api');
  before(async () => {
    stack = await startStack({
      worker: false,
      logger: log.logger,
      env: { TOKEN_RATE_LIMIT_PER_CLIENT_PER_MINUTE: '2' },
    });
  });
  after(async () => stack?.stop());

  const tokenAudit = () =>
    stack.dataSource
      .getRepository(AuditEventEntity)
      .find({ where: { action: 'token.issue' }, order: { occurredAt: 'ASC' } });

  it('logs and audits each token issued and each credential refused, with client id and source address, never the secret', async () => {
    const client = await new ClientStore(stack.dataSource).create('audited', SCOPES.fullAccess);
    const before = (await tokenAudit()).length;
    const wrongSecret = `${client.client_secret}-wrong`;
    const longId = `odsim_${'x'.repeat(100)}`;

    const issued = await postToken(stack.baseUrl, credentials(client), '127.0.6.1');
    expect(issued.status).to.equal(200);
    expect(
      (await postToken(stack.baseUrl, credentials(client, { client_secret: wrongSecret }), '127.0.6.2')).status,
    ).to.equal(401);
    expect(
      (
        await postToken(
          stack.baseUrl,
          { grant_type: 'client_credentials', client_id: longId, client_secret: client.client_secret },
          '127.0.6.3',
        )
      ).status,
    ).to.equal(401);
    expect(
      (await postToken(stack.baseUrl, { grant_type: 'client_credentials', client_id: client.client_id }, '127.0.6.4'))
        .status,
    ).to.equal(400);

    const issuedLine = log.events('auth.token_issued').find((l) => l.clientId === client.client_id);
    expect(issuedLine).to.include({
      sourceAddress: '127.0.6.1',
      scope: SCOPES.fullAccess,
      requestId: issued.headers['x-request-id'],
    });
    const refusals = log.events('auth.token_refused');
    expect(refusals.find((l) => l.sourceAddress === '127.0.6.2')).to.include({
      clientId: client.client_id,
      reason: 'invalid_client',
    });
    expect(refusals.find((l) => l.sourceAddress === '127.0.6.3')).to.include({
      clientId: longId.slice(0, 64),
      reason: 'invalid_client',
    });
    expect(refusals.find((l) => l.sourceAddress === '127.0.6.4')).to.include({
      clientId: client.client_id,
      reason: 'invalid_request',
    });

    const rows = (await tokenAudit()).slice(before);
    const details = rows.map((r) => ({
      actor: r.actor,
      outcome: r.outcome,
      requestId: r.requestId,
      ...JSON.parse(r.details ?? '{}'),
    }));
    expect(details).to.deep.equal([
      {
        actor: client.client_id,
        outcome: 'succeeded',
        requestId: issued.headers['x-request-id'],
        sourceAddress: '127.0.6.1',
        scope: SCOPES.fullAccess,
      },
      {
        actor: client.client_id,
        outcome: 'rejected',
        requestId: details[1].requestId,
        sourceAddress: '127.0.6.2',
        reason: 'invalid_client',
      },
      {
        actor: longId.slice(0, 64),
        outcome: 'rejected',
        requestId: details[2].requestId,
        sourceAddress: '127.0.6.3',
        reason: 'invalid_client',
      },
    ]); // and none for the request refused before any check

    const everything = JSON.stringify(log.lines) + JSON.stringify(await tokenAudit());
    expect(everything.includes(client.client_secret), 'the secret appears in a log line or audit row').to.equal(false);
    expect(
      everything.includes(issued.body.access_token as string),
      'the token appears in a log line or audit row',
    ).to.equal(false);
  });

  it('logs a request refused by a rate limit, without an audit row', async () => {
    const client = await new ClientStore(stack.dataSource).create('limited', SCOPES.fullAccess);
    for (let n = 1; n <= 2; n++)
      expect(
        (await postToken(stack.baseUrl, credentials(client, { client_secret: `guess-${n}` }), '127.0.7.1')).status,
      ).to.equal(401);
    const before = (await tokenAudit()).length;
    expect(
      (await postToken(stack.baseUrl, credentials(client, { client_secret: 'guess-3' }), '127.0.7.1')).status,
    ).to.equal(429);
    expect(log.events('auth.token_refused').find((l) => l.reason === 'rate_limited_client')).to.include({
      clientId: client.client_id,
      sourceAddress: '127.0.7.1',
    });
    expect((await tokenAudit()).length).to.equal(before);
  });
});
