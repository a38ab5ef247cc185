import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
import { expectAccessible, launchBrowser, type PageWatch, skipWithoutBrowser, watchPage } from '../support/browser';
import { type Stack, startStack } from '../support/stack';

/** Puts a main-UI session into sessionStorage before any of the page's own scripts run. */
async function signIn(page: Page, accessToken: string, expiresAt = Date.now() + 10 * 60_000): Promise<void> {
  const session = JSON.stringify({
    accessToken,
    expiresAt,
    clientId: 'test-full',
    scopes: ['edfi_admin_api/full_access'],
  });
  await page.addInitScript((value) => (globalThis as any).sessionStorage.setItem('odsim.session', value), session);
}

describe('interactive API docs at /docs (in a browser)', () => {
  let browser: Browser;
  let stack: Stack;
  let page: Page;
  let watch: PageWatch;
  /** Every URL the page asked for. */
  let requested: string[];

  before(async function () {
    skipWithoutBrowser(this);
    [browser, stack] = await Promise.all([launchBrowser(), startStack({ worker: false })]);
  });
  after(async () => {
    await browser?.close();
    await stack?.stop();
  });
  beforeEach(async () => {
    page = await browser.newPage();
    watch = await watchPage(page);
    requested = [];
    page.on('request', (request) => requested.push(request.url()));
  });
  afterEach(async () => page.close());

  const signInMessage = () => page.getByRole('heading', { name: 'Sign in first' });

  it('asks a visitor without a session to sign in first, accessibly, and does not ask for the document', async () => {
    await page.goto(`${stack.baseUrl}/docs`);
    await signInMessage().waitFor();
    const link = page.getByRole('link', { name: 'Sign in to ODS Instance Manager' });
    expect(await link.getAttribute('href')).to.equal('/');
    expect(await page.locator('#swagger-ui').isHidden()).to.equal(true);
    await expectAccessible(page);
    watch.expectClean();
    expect(requested.filter((url) => url.includes('/openapi.json'))).to.deep.equal([]);
  });

  it('asks to sign in again when the session has expired', async () => {
    await signIn(page, stack.tokens.full, Date.now() - 1000);
    await page.goto(`${stack.baseUrl}/docs`);
    await signInMessage().waitFor();
    watch.expectClean();
    expect(requested.filter((url) => url.includes('/openapi.json'))).to.deep.equal([]);
  });

  it('asks to sign in again when the API refuses the session’s token', async () => {
    await signIn(page, 'not-a-token');
    await page.goto(`${stack.baseUrl}/docs`);
    await signInMessage().waitFor();
    expect(watch.cspViolations).to.deep.equal([]);
    expect(watch.pageErrors).to.deep.equal([]);
  });

  it('shows a signed-in user the API’s operations and runs “Try it out” with their token, all from this origin', async () => {
    await signIn(page, stack.tokens.full);
    await page.goto(`${stack.baseUrl}/docs`);
    const operation = page.locator('.opblock-get').filter({ has: page.locator('[data-path="/admin/instances"]') });
    await operation.waitFor();
    expect(await page.getByText('/admin/instances', { exact: true }).first().isVisible()).to.equal(true);

    await operation.locator('.opblock-summary-control').click();
    await operation.getByRole('button', { name: 'Try it out' }).click();
    const [response] = await Promise.all([
      page.waitForResponse((r) => new URL(r.url()).pathname === '/admin/instances'),
      operation.getByRole('button', { name: 'Execute' }).click(),
    ]);
    expect(response.status()).to.equal(200);
    expect(await response.request().headerValue('authorization')).to.equal(`Bearer ${stack.tokens.full}`);
    await operation.locator('.live-responses-table .response-col_status', { hasText: '200' }).waitFor();

    expect(requested.filter((url) => !url.startsWith(`${stack.baseUrl}/`))).to.deep.equal([]);
    await expectAccessible(page);
    watch.expectClean();
  });
});
