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
});
