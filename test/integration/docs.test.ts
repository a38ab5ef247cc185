import { expect } from 'chai';
import { type Stack, startStack } from '../support/stack';

/** The /docs page over plain HTTP; test/browser/docs.test.ts runs it in a browser. */
describe('interactive API docs at /docs', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ worker: false });
  });
  after(async () => stack.stop());

  /** The `src` and `href` of the page's scripts, stylesheets and icon. */
  const assetsOf = (html: string) =>
    [...html.matchAll(/<(?:script|link)\b[^>]*\b(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);

  it('serves the page to anyone, under the strict CSP, with no inline script or style', async () => {
    const r = await stack.request('GET', '/docs', { token: null });
    expect(r.status).to.equal(200);
    expect(r.headers.get('content-type')).to.match(/^text\/html/);
    expect(r.headers.get('content-security-policy')).to.include("script-src 'self'").and.include("style-src 'self'");
    const html = r.body as string;
    expect(html).to.include('Sign in first');
    expect(html).not.to.match(/<style\b/i);
    expect(html).not.to.match(/\sstyle=/i);
    expect(html).not.to.match(/<script\b(?![^>]*\bsrc=)[^>]*>/i);
    expect(html).not.to.match(/\son[a-z]+=/i);
    expect((await stack.request('GET', '/docs/', { token: null })).body).to.equal(html);
  });

  it('serves every file the page loads, from this origin, and names no other host in its own files', async () => {
    const html = (await stack.request('GET', '/docs', { token: null })).body as string;
    const assets = assetsOf(html);
    expect(assets).to.include.members([
      '/docs/swagger-ui/swagger-ui-bundle.js',
      '/docs/swagger-ui/swagger-ui.css',
      '/app/docs.js',
      '/docs/docs.css',
    ]);
    for (const asset of assets) {
      expect(asset, 'a path on this origin').to.match(/^\/(docs|app)\//);
      const r = await stack.request('GET', asset, { token: null });
      expect(r.status, asset).to.equal(200);
      expect(r.headers.get('content-security-policy'), asset).to.include("default-src 'self'");
    }
    const initializer = await stack.request('GET', '/app/docs.js', { token: null });
    expect(initializer.headers.get('content-type')).to.match(/^(application|text)\/javascript/);
    for (const own of [
      html,
      initializer.body as string,
      (await stack.request('GET', '/docs/docs.css')).body as string,
    ]) {
      expect(own).not.to.match(/https?:\/\//);
    }
  });

  it('serves none of swagger-ui-dist but the files the page needs (not its Petstore example)', async () => {
    for (const path of [
      '/docs/swagger-ui/index.html',
      '/docs/swagger-ui/swagger-initializer.js',
      '/docs/swagger-ui/package.json',
      '/docs/swagger-ui/',
      '/docs/nowhere',
      '/docs/tsconfig.json',
      '/docs/initializer.js',
      '/app/docs.ts',
    ]) {
      const r = await stack.request('GET', path, { token: null });
      expect(r.status, path).to.equal(404);
      expect(r.headers.get('content-type'), path).to.match(/^application\/problem\+json/);
    }
  });

  it('leaves the document itself behind a token', async () => {
    expect((await stack.request('GET', '/openapi.json', { token: null })).status).to.equal(401);
    expect((await stack.request('GET', '/openapi.json', { token: stack.tokens.read })).status).to.equal(200);
  });
});
