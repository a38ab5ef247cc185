import { expect } from 'chai';
import { type Stack, startStack } from '../support/stack';

/** The UI's static files: public (a sign-in page), this origin only, nothing inline, nothing foreign. */
describe('the web UI’s files', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ worker: false });
  });
  after(async () => stack.stop());

  const get = (path: string) => stack.request('GET', path, { token: null });

  it('serves the page at / with the strict CSP, one module script and no inline script, style or handler', async () => {
    const r = await get('/');
    expect(r.status).to.equal(200);
    expect(r.headers.get('content-type')).to.match(/^text\/html/);
    expect(r.headers.get('content-security-policy')).to.include("script-src 'self'").and.include("style-src 'self'");
    const html = r.body as string;
    expect(html.match(/<script\b[^>]*>/gi)).to.deep.equal(['<script type="module" src="/app/main.js">']);
    expect(html).not.to.match(/<style\b|\sstyle=|\son[a-z]+=/i);
    expect(html).not.to.match(/https?:\/\//);
  });

  it('serves every module the page and /docs import, from this origin, naming no other host', async () => {
    const seen = new Set<string>();
    const visit = async (path: string): Promise<void> => {
      if (seen.has(path)) return;
      seen.add(path);
      const r = await get(path);
      expect(r.status, path).to.equal(200);
      expect(r.headers.get('content-type'), path).to.match(/^(application|text)\/javascript/);
      const code = r.body as string;
      expect(code, path).not.to.match(/https?:\/\//);
      for (const [, imported] of code.matchAll(/from '\.\/([\w-]+\.js)'/g)) await visit(`/app/${imported}`);
    };
    await visit('/app/main.js');
    await visit('/app/docs.js');
    expect(seen.size).to.be.greaterThan(8);
    const css = await get('/styles.css');
    expect(css.status).to.equal(200);
    expect(css.body).not.to.match(/https?:\/\/|@import/);
  });

  it('answers 404 problem+json for anything else, sources and files outside the UI included', async () => {
    for (const path of ['/app/nowhere.js', '/app/main.ts', '/app/../package.json', '/web/src/main.ts', '/.env']) {
      const r = await get(path);
      expect(r.status, path).to.equal(404);
      expect(r.headers.get('content-type'), path).to.match(/^application\/problem\+json/);
    }
  });
});
