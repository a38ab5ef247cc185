import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
import { expectAccessible, launchBrowser, skipWithoutBrowser, watchPage } from '../support/browser';

const PAGES: Record<string, string> = {
  '/clean': '<!doctype html><html lang="en"><title>Clean</title><main><h1>Clean</h1></main></html>',
  '/inline': [
    '<!doctype html><html lang="en"><title>Inline</title>',
    '<style>h1 { color: red }</style><script>document.title = "ran"</script>',
    '<main><h1>Inline</h1><img src="/nothing.png"></main></html>',
  ].join(''),
};

/** The harness checks itself: what it is meant to catch, it catches, under the app's kind of CSP. */
describe('browser test harness', () => {
  let browser: Browser;
  let server: Server;
  let origin: string;
  let page: Page;
  before(async function () {
    skipWithoutBrowser(this);
    server = createServer((req, res) => {
      if (req.url === '/favicon.ico') return void res.writeHead(204).end();
      const html = PAGES[req.url ?? ''];
      res.writeHead(html ? 200 : 404, {
        'content-type': 'text/html; charset=utf-8',
        'content-security-policy': "default-src 'self'; script-src 'self'; style-src 'self'",
      });
      res.end(html ?? '');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    server?.close();
  });
  beforeEach(async () => {
    page = await browser.newPage();
  });
  afterEach(async () => page.close());

  it('finds nothing wrong with a clean, accessible page', async () => {
    const watch = await watchPage(page);
    await page.goto(`${origin}/clean`);
    await expectAccessible(page);
    watch.expectClean();
  });

  it('records CSP violations despite a CSP that forbids inline script, and failed loads', async () => {
    const watch = await watchPage(page);
    await page.goto(`${origin}/inline`);
    await page.waitForLoadState('load');
    expect(await page.title()).to.equal('Inline');
    expect(watch.cspViolations.join('\n')).to.match(/style-src-elem blocked inline/);
    expect(watch.cspViolations.join('\n')).to.match(/script-src-elem blocked inline/);
    expect(watch.consoleErrors.join('\n')).to.match(/404.*nothing\.png/);
    expect(() => watch.expectClean()).to.throw(/CSP violation: style-src-elem/);
  });

  it('fails on a serious accessibility violation, naming the rule and the element', async () => {
    await page.goto(`${origin}/inline`);
    const failure = await expectAccessible(page).then(
      () => new Error('expected a failure'),
      (error: Error) => error,
    );
    expect(failure.message).to.match(/image-alt \(critical\)/);
    expect(failure.message).to.include('["img"]');
    await expectAccessible(page, 'h1');
  });
});
