import { expect } from 'chai';
import { Stack, startStack } from '../support/stack';

describe('security headers', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ worker: false });
  });
  after(async () => stack.stop());

  const cases: [string, string, { token?: string | null }][] = [
    ['a successful read', '/admin/instances', {}],
    ['a refusal', '/admin/instances', { token: null }],
    ['an unknown route', '/nowhere', {}],
    ['a health check', '/health/live', { token: null }],
  ];
  for (const [what, path, options] of cases) {
    it(`are set on ${what}, and the server does not name itself`, async () => {
      const r = await stack.request('GET', path, options);
      expect(r.headers.get('x-content-type-options')).to.equal('nosniff');
      expect(r.headers.get('x-frame-options')).to.equal('SAMEORIGIN');
      expect(r.headers.get('strict-transport-security')).to.match(/max-age=\d+/);
      expect(r.headers.get('content-security-policy')).to.include("default-src 'self'");
      expect(r.headers.get('referrer-policy')).to.equal('no-referrer');
      expect(r.headers.get('x-powered-by')).to.equal(null);
      expect(r.headers.get('x-request-id')).to.match(/^[A-Za-z0-9._:-]{1,64}$/);
    });
  }

  it('include a strict Content Security Policy: own files only, nothing inline, no upgrade to https', async () => {
    const policy = directives((await stack.request('GET', '/health/live', { token: null })).headers);
    expect(policy).to.deep.equal({
      'default-src': ["'self'"],
      'base-uri': ["'none'"],
      'connect-src': ["'self'"],
      'font-src': ["'self'"],
      'form-action': ["'self'"],
      'frame-ancestors': ["'none'"],
      'img-src': ["'self'", 'data:'],
      'object-src': ["'none'"],
      'script-src': ["'self'"],
      'script-src-attr': ["'none'"],
      'style-src': ["'self'"],
    });
    for (const name of ['script-src', 'style-src']) {
      expect(policy[name], name).not.to.include("'unsafe-inline'");
      expect(policy[name], name).not.to.include('https:');
    }
    expect(policy).not.to.have.property('upgrade-insecure-requests');
  });
});

/** The policy header as directive → sources. */
function directives(headers: Headers): Record<string, string[]> {
  const header = headers.get('content-security-policy') ?? '';
  return Object.fromEntries(
    header
      .split(';')
      .map((d) => d.trim().split(/\s+/))
      .filter(([name]) => name)
      .map(([name, ...sources]) => [name!, sources]),
  );
}
