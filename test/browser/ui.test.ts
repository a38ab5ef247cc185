import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
import { ClientStore } from '../../api/auth/clients';
import { SCOPES } from '../../api/auth/scopes';
import { TokenService } from '../../api/auth/tokens';
import { AuditEventEntity } from '../../shared/database/entities';
import { queueName } from '../../shared/jobs/queue';
import { expectServerMatchesRecords } from '../support/consistency';
import { withServer } from '../support/ods-server';
import {
  expectAccessible,
  launchBrowser,
  type PageWatch,
  signInThroughUi,
  skipWithoutBrowser,
  watchPage,
} from '../support/browser';
import { type Stack, startStack } from '../support/stack';

/** The README shows this picture of the instance list; the suite makes it on every run, so it stays true. */
const SCREENSHOT = path.resolve(__dirname, '../../../docs/images/instance-list.png');

interface Credentials {
  client_id: string;
  client_secret: string;
}

describe('web UI (in a browser) @slow', function () {
  this.timeout(120_000);
  let browser: Browser;
  let stack: Stack;
  let page: Page;
  let watch: PageWatch;
  let full: Credentials;
  let readOnly: Credentials;

  before(async function () {
    skipWithoutBrowser(this);
    [browser, stack] = await Promise.all([launchBrowser(), startStack()]);
    const clients = new ClientStore(stack.dataSource);
    full = await clients.create('ui-operator', SCOPES.fullAccess);
    readOnly = await clients.create('ui-viewer', SCOPES.readOnly);
  });
  after(async () => {
    await browser?.close();
    await stack?.stop();
  });
  beforeEach(async () => {
    page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
    watch = await watchPage(page);
  });
  afterEach(async () => page.close());

  const signIn = (who: Credentials = full) => signInThroughUi(page, stack.baseUrl, who);

  const row = (text: string) => page.locator('tbody tr', { hasText: text });
  const badgeOf = (text: string) => row(text).locator('.badge');
  async function waitForBadge(text: string, status: string): Promise<void> {
    await row(text).locator(`.badge[data-status="${status}"]`).waitFor({ timeout: 60_000 });
  }

  async function createThroughForm(instanceName: string, databaseName: string): Promise<void> {
    await page.getByRole('button', { name: 'New instance' }).click();
    const dialog = page.getByRole('dialog', { name: 'New instance' });
    await dialog.getByLabel('Instance name').fill(instanceName);
    await dialog.getByLabel('Database name').fill(databaseName);
    await dialog.getByRole('button', { name: 'Create instance' }).click();
    await dialog.waitFor({ state: 'detached' });
  }

  it('refuses a wrong secret with a clear message, then signs in; both pages pass axe', async () => {
    await page.goto(`${stack.baseUrl}/`);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await expectAccessible(page);
    await page.getByLabel('Client id').fill(full.client_id);
    await page.getByLabel('Client secret').fill('not the secret');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'Unknown client id or wrong secret.' }).waitFor();
    expect(await page.getByLabel('Client secret').inputValue()).to.equal('');

    await page.getByLabel('Client secret').fill(full.client_secret);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Instances', level: 1 }).waitFor();
    expect(await page.getByText(`Signed in as ${full.client_id}`).isVisible()).to.equal(true);
    expect(await page.getByText('Read only').isVisible()).to.equal(false);
    // The token is in sessionStorage, never in a cookie.
    expect(await page.context().cookies()).to.deep.equal([]);
    await expectAccessible(page);
    // The 401 of the wrong secret is the one console error expected.
    expect(watch.consoleErrors.filter((e) => !e.includes('status of 401'))).to.deep.equal([]);
    expect(watch.cspViolations).to.deep.equal([]);
  });

  it('creates an instance, shows it live until Created, renames it, and deletes it after the typed confirmation', async () => {
    await signIn();
    const name = `Grand Bend ISD ${stack.id}`;
    const database = stack.db('ui_lifecycle');
    await createThroughForm(name, database);
    await waitForBadge(name, 'Created'); // no reload: the event stream moved it along
    expect(await page.getByText('Live updates: on').isVisible()).to.equal(true);

    await row(name)
      .getByRole('button', { name: `Rename ${name}` })
      .click();
    const rename = page.getByRole('dialog', { name: `Rename ${name}` });
    expect(await rename.getByLabel('Database name').inputValue()).to.equal(database);
    await rename.getByLabel('Database name').fill(stack.db('ui_renamed'));
    await rename.getByRole('button', { name: 'Rename' }).click();
    await rename.waitFor({ state: 'detached' });
    await row(stack.db('ui_renamed')).locator('.badge[data-status="Created"]').waitFor({ timeout: 60_000 });

    await row(name)
      .getByRole('button', { name: `Delete ${name}` })
      .click();
    const confirm = page.getByRole('dialog', { name: `Delete ${name}?` });
    const button = confirm.getByRole('button', { name: 'Delete instance and database' });
    await expectAccessible(page);
    expect(await button.isDisabled()).to.equal(true);
    await confirm.getByLabel(`Type ${stack.db('ui_renamed')} to confirm`).fill(name); // the instance name is not enough
    expect(await button.isDisabled()).to.equal(true);
    await confirm.getByLabel(`Type ${stack.db('ui_renamed')} to confirm`).fill(stack.db('ui_renamed'));
    await button.click();
    await confirm.waitFor({ state: 'detached' });
    await row(name).waitFor({ state: 'detached', timeout: 60_000 }); // Deleted leaves the default list
    await expectServerMatchesRecords(stack);
    watch.expectClean();
  });

  it('protects an instance: a Protected badge, no Delete or Rename, says why; unprotected after confirming, it can be deleted', async () => {
    const instance = await stack.createInstance('ui_protect');
    const name: string = instance.instanceName;
    await signIn();
    await badgeOf(name).first().waitFor();
    await row(name)
      .getByRole('button', { name: `Protect ${name}` })
      .click();
    await row(name).getByText('Protected', { exact: true }).waitFor();
    expect(
      await row(name)
        .getByRole('button', { name: `Delete ${name}` })
        .count(),
    ).to.equal(0);
    expect(
      await row(name)
        .getByRole('button', { name: `Rename ${name}` })
        .count(),
    ).to.equal(0);
    expect(await row(name).getByText('Unprotect to rename or delete.').isVisible()).to.equal(true);
    await expectAccessible(page);

    await row(name).getByRole('link', { name }).click();
    await page.getByRole('heading', { name, level: 1 }).waitFor();
    expect(await page.locator('.page-head .badge[data-protected]').textContent()).to.equal('Protected');
    expect(await page.getByRole('button', { name: /^(Delete|Rename)$/ }).count()).to.equal(0);
    expect(await page.locator('[data-key="protection-note"]').isVisible()).to.equal(true);
    await expectAccessible(page);

    await page.getByRole('button', { name: 'Unprotect' }).click();
    const confirm = page.getByRole('dialog', { name: `Unprotect ${name}?` });
    await expectAccessible(page);
    await confirm.getByRole('button', { name: 'Unprotect' }).click();
    await confirm.waitFor({ state: 'detached' });
    await page.getByRole('button', { name: 'Delete' }).waitFor();
    expect(await page.locator('.badge[data-protected]').count()).to.equal(0);

    await page.getByRole('button', { name: 'Delete' }).click();
    const del = page.getByRole('dialog', { name: `Delete ${name}?` });
    await del.getByLabel(`Type ${instance.databaseName} to confirm`).fill(instance.databaseName);
    await del.getByRole('button', { name: 'Delete instance and database' }).click();
    await del.waitFor({ state: 'detached' });
    await stack.waitForStatus(instance.id, 'Deleted');
    const audit = await stack.dataSource.getRepository(AuditEventEntity).find({ where: { instanceId: instance.id } });
    expect(audit.map((a) => a.action)).to.include.members(['instance.protect', 'instance.unprotect']);
    await expectServerMatchesRecords(stack);
    watch.expectClean();
  });

  it('shows the API’s per-field errors beside the fields and explains a 409', async () => {
    await signIn();
    await page.getByRole('button', { name: 'New instance' }).click();
    const dialog = page.getByRole('dialog', { name: 'New instance' });
    await dialog.getByLabel('Instance name').fill('   ');
    await dialog.getByLabel('Database name').fill('bad name; drop');
    await dialog.getByRole('button', { name: 'Create instance' }).click();
    const nameField = dialog.getByLabel('Instance name');
    await page.waitForFunction(() => (globalThis as any).document.activeElement?.id === 'create-instanceName');
    expect(await nameField.getAttribute('aria-invalid')).to.equal('true');
    expect(await dialog.locator('#create-instanceName-error').textContent()).to.contain('printable text');
    await expectAccessible(page);
    await nameField.fill(`Bad database ${stack.id}`);
    await dialog.getByRole('button', { name: 'Create instance' }).click();
    await dialog.locator('#create-databaseName-error').filter({ hasText: /\S/ }).waitFor();
    expect(await nameField.getAttribute('aria-invalid')).to.equal(null);

    const taken = await stack.createInstance('ui_taken');
    await nameField.fill(`Another ${stack.id}`);
    await dialog.getByLabel('Database name').fill(taken.databaseName);
    await dialog.getByRole('button', { name: 'Create instance' }).click();
    await dialog.getByRole('alert').filter({ hasText: 'Another instance may use this name' }).waitFor();
    expect(await nameField.getAttribute('aria-invalid')).to.equal(null);
    // 400 and 409 are the console errors this test causes on purpose.
    expect(watch.consoleErrors.filter((e) => !/status of (400|409)/.test(e))).to.deep.equal([]);
    expect(watch.cspViolations).to.deep.equal([]);
  });

  it('shows a failure with its reason on the list, the detail page and the jobs page, and retries it', async () => {
    const database = stack.db('ui_blocked');
    await withServer((c) => c.query(`CREATE DATABASE ${c.escapeIdentifier(database)}`));
    await signIn();
    const name = `Blocked ${stack.id}`;
    await createThroughForm(name, database);
    await waitForBadge(name, 'CreateFailed');
    const reason = (await row(name).locator('.error-text').textContent()) ?? '';
    expect(reason).to.contain(database);

    await row(name).getByRole('link', { name }).click();
    await page.getByRole('heading', { name, level: 1 }).waitFor();
    const jobRow = page.locator('tbody tr', { hasText: 'create' }).first();
    expect(await jobRow.locator('.badge').textContent()).to.equal('failed');
    expect(await jobRow.locator('.error-text').textContent()).to.contain(database);
    await expectAccessible(page);

    await page.getByRole('link', { name: 'Jobs' }).click();
    await page.getByRole('heading', { name: 'Jobs', level: 1 }).waitFor();
    await page.getByLabel('Show').selectOption('failed');
    await page.locator('tbody tr', { hasText: database }).locator('.error-text').waitFor();
    await expectAccessible(page);

    await withServer((c) => c.query(`DROP DATABASE ${c.escapeIdentifier(database)} WITH (FORCE)`));
    await page.getByRole('link', { name: 'Instances' }).click();
    await row(name)
      .getByRole('button', { name: `Retry ${name}` })
      .click();
    await waitForBadge(name, 'Created');
    expect(await row(name).locator('.error-text').count()).to.equal(0);
    await expectServerMatchesRecords(stack);
    watch.expectClean();
  });

  it('lets a read-only client see everything but offers no control, and the API refuses its writes', async () => {
    const instance = await stack.createInstance('ui_readonly');
    await signIn(readOnly);
    expect(await page.getByText('Read only').isVisible()).to.equal(true);
    await badgeOf(instance.instanceName).waitFor();
    expect(await page.getByRole('button', { name: 'New instance' }).count()).to.equal(0);
    expect(await page.getByRole('columnheader', { name: 'Actions' }).count()).to.equal(0);
    expect(await page.getByRole('button', { name: /Rename|Delete|Retry/ }).count()).to.equal(0);
    await row(instance.instanceName).getByRole('link').click();
    await page.getByRole('heading', { name: instance.instanceName, level: 1 }).waitFor();
    expect(await page.getByRole('button', { name: /Rename|Delete|Retry/ }).count()).to.equal(0);
    await expectAccessible(page);

    const status = await page.evaluate(async (id) => {
      const { accessToken } = JSON.parse((globalThis as any).sessionStorage.getItem('odsim.session'));
      const r = await fetch(`/admin/instances/${id}`, {
        method: 'DELETE',
        headers: { Authorization: `Bearer ${accessToken}` },
      });
      return r.status;
    }, instance.id);
    expect(status).to.equal(403);
    expect((await stack.request('GET', `/admin/instances/${instance.id}`)).body.status).to.equal('Created');
  });

  it('asks to sign in again when the token expires, and the form in progress is kept and sent', async () => {
    await signIn();
    await page.getByRole('button', { name: 'New instance' }).click();
    const dialog = page.getByRole('dialog', { name: 'New instance' });
    const name = `After expiry ${stack.id}`;
    await dialog.getByLabel('Instance name').fill(name);
    await dialog.getByLabel('Database name').fill(stack.db('ui_expiry'));

    // The token runs out while the user fills the form: the server now refuses it.
    const tokens = new TokenService(stack.apiConfig.tokens.signingKey!, {
      ...stack.apiConfig.tokens,
      deploymentId: stack.deploymentId,
    });
    const expired = tokens.issue({ clientId: full.client_id, scopes: [SCOPES.fullAccess] }, -60).access_token;
    await page.evaluate((token) => {
      const storage = (globalThis as any).sessionStorage;
      const session = JSON.parse(storage.getItem('odsim.session'));
      storage.setItem('odsim.session', JSON.stringify({ ...session, accessToken: token }));
    }, expired);
    await dialog.getByRole('button', { name: 'Create instance' }).click();

    const again = page.getByRole('dialog', { name: 'Sign in again' });
    await again.waitFor();
    expect(await again.getByLabel('Client id').inputValue()).to.equal(full.client_id);
    await expectAccessible(page);
    await again.getByLabel('Client secret').fill(full.client_secret);
    await again.getByRole('button', { name: 'Sign in' }).click();
    await again.waitFor({ state: 'detached' });
    await dialog.waitFor({ state: 'detached' }); // the create went through with the new token
    await waitForBadge(name, 'Created');
    // The 401s of the expired token (the request, the event stream) are expected console errors.
    expect(watch.consoleErrors.filter((e) => !e.includes('status of 401'))).to.deep.equal([]);
    expect(watch.cspViolations).to.deep.equal([]);
  });

  it('shows a change made through another API process without a reload', async () => {
    await signIn();
    const other = await stack.startAnotherApi();
    const name = `From elsewhere ${stack.id}`;
    const r = await fetch(`${other}/admin/instances`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${stack.tokens.full}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ instanceName: name, databaseName: stack.db('ui_elsewhere') }),
    });
    expect(r.status).to.equal(201);
    await waitForBadge(name, 'Created');
    // …and tells screen-reader users, through the page's polite live region.
    const announcer = page.locator('#announcer[aria-live="polite"]');
    await announcer.filter({ hasText: `${name} is now Created.` }).waitFor({ state: 'attached' });
    watch.expectClean();
  });

  it('can be driven by keyboard alone, with focus visible', async () => {
    await signIn();
    await page.getByRole('heading', { name: 'Instances', level: 1 }).waitFor();
    let reached = false;
    for (let i = 0; i < 60 && !reached; i++) {
      await page.keyboard.press('Tab');
      reached = (await page.evaluate(() => (globalThis as any).document.activeElement?.id)) === 'new-instance';
    }
    expect(reached, 'Tab reaches the New instance button').to.equal(true);
    const outline = await page.evaluate(() => {
      const active = (globalThis as any).document.activeElement;
      return (globalThis as any).getComputedStyle(active).outlineStyle;
    });
    expect(outline).to.equal('solid');
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog', { name: 'New instance' });
    await dialog.waitFor();
    const name = `Keyboard ${stack.id}`;
    await page.keyboard.type(name); // focus starts in the first field
    await page.keyboard.press('Tab');
    await page.keyboard.type(stack.db('ui_keyboard'));
    await page.keyboard.press('Enter');
    await dialog.waitFor({ state: 'detached' });
    await waitForBadge(name, 'Created');
    watch.expectClean();
  });

  it('filters by status, searches by name and pages, newest first', async () => {
    await signIn();
    await page.getByLabel('Search by name').fill('Grand Bend');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.waitForURL(/q=Grand\+Bend/);
    const names = await page.locator('tbody th').allTextContents();
    expect(names.every((n) => n.includes('Grand Bend')) || names.length === 0).to.equal(true);

    await page.getByLabel('Search by name').fill('');
    await page.getByLabel('Status').selectOption('Created');
    await page.waitForURL(/status=Created/);
    await page.locator('tbody .badge').first().waitFor();
    const statuses = await page.locator('tbody .badge').allTextContents();
    expect(statuses.length).to.be.greaterThan(0);
    expect(new Set(statuses)).to.deep.equal(new Set(['Created']));

    // Newest first, two to a page: the pages together are the API's own newest-first order.
    const expected = (await stack.request('GET', '/admin/instances?order=desc&limit=500')).body.map(
      (i: { instanceName: string }) => i.instanceName,
    );
    expect(expected.length).to.be.greaterThan(2);
    await page.goto(`${stack.baseUrl}/#/instances?limit=2`);
    await page.getByText(`Showing 1–2 of ${expected.length}`).waitFor();
    expect(await page.locator('tbody th').allTextContents()).to.deep.equal(expected.slice(0, 2));
    await page.getByRole('button', { name: 'Next page' }).click();
    await page.getByText(`Showing 3–${Math.min(4, expected.length)} of ${expected.length}`).waitFor();
    expect(await page.locator('tbody th').allTextContents()).to.deep.equal(expected.slice(2, 4));
    await page.goto(`${stack.baseUrl}/#/instances`);
    await page.locator('tbody tr').first().waitFor();
    watch.expectClean();
  });

  // Last: it pauses the queue and stops the worker.
  it('finds the queue dashboard from the UI without pasting a token, and warns when the queue is paused or no worker runs', async () => {
    await signIn();
    await page.getByRole('link', { name: 'Queue dashboard' }).click();
    await page.waitForURL(`${stack.baseUrl}/admin/queues`);
    await page.getByText(queueName(stack.deploymentId)).first().waitFor();
    // bull-board's page asks for Google Fonts; the dashboard's CSP refuses it, so nothing leaves the origin.
    const unexpected = (list: string[]) => list.filter((m) => !m.includes('fonts.googleapis.com'));
    expect(unexpected(watch.cspViolations)).to.deep.equal([]);
    expect(unexpected(watch.consoleErrors)).to.deep.equal([]);
    const cookies = await page.context().cookies();
    expect(cookies.map((c) => [c.name, c.httpOnly, c.sameSite, c.path])).to.deep.equal([
      ['odsim_board', true, 'Strict', '/admin/queues'],
    ]);
    // bull-board puts its extra links in the last menu of its header.
    await page.locator('header ul li').last().locator('button').click();
    await page.getByText('Back to instances').click();
    await page.getByRole('heading', { name: 'Instances', level: 1 }).waitFor();

    // The operator pauses the queue (here through the dashboard's own API) and the worker stops.
    const pause = await stack.request(
      'PUT',
      `/admin/queues/api/queues/${encodeURIComponent(queueName(stack.deploymentId))}/pause`,
    );
    expect(pause.status).to.equal(200);
    await stack.stopWorkers();
    await page.goto(`${stack.baseUrl}/`);
    await page.getByText('The queue is paused').waitFor();
    await page.getByText('No worker is running').waitFor();
    await expectAccessible(page);

    // Signing out clears the dashboard's cookie too.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    const deadline = Date.now() + 5000;
    while ((await page.context().cookies()).length && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    expect(await page.context().cookies()).to.deep.equal([]);
  });
});

describe('the README’s picture of the instance list @slow', function () {
  this.timeout(120_000);
  let browser: Browser;
  let stack: Stack;

  before(async function () {
    skipWithoutBrowser(this);
    [browser, stack] = await Promise.all([launchBrowser(), startStack()]);
  });
  after(async () => {
    await browser?.close();
    await stack?.stop();
  });

  it('is taken of a list with each kind of status, so the picture stays true', async () => {
    const create = async (instanceName: string, suffix: string, status: string) => {
      const r = await stack.request('POST', '/admin/instances', {
        body: { instanceName, databaseName: stack.db(suffix) },
      });
      expect(r.status).to.equal(201);
      return stack.waitForStatus(r.body.id, status);
    };
    await create('Grand Bend ISD 2025-2026', 'edfi_255901_2526', 'Created');
    await create('Grand Bend ISD 2026-2027', 'edfi_255901_2627', 'Created');
    await withServer((c) => c.query(`CREATE DATABASE ${c.escapeIdentifier(stack.db('edfi_255950_2627'))}`));
    await create('Sample County SD 2026-2027', 'edfi_255950_2627', 'CreateFailed');
    await stack.stopWorkers(); // what is asked now waits in the queue
    await create('Region 10 ESC 2026-2027', 'edfi_300010_2627', 'PendingCreate');

    const page = await browser.newPage({ viewport: { width: 1280, height: 640 } });
    const clients = new ClientStore(stack.dataSource);
    const operator = await clients.create('grand-bend-operator', SCOPES.fullAccess);
    await signInThroughUi(page, stack.baseUrl, operator);
    await page.locator('.badge[data-status="PendingCreate"]').waitFor();
    await page.getByText('No worker is running').waitFor();
    expect(await page.locator('tbody tr').count()).to.equal(4);
    mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    await page.close();
    await withServer((c) =>
      c.query(`DROP DATABASE IF EXISTS ${c.escapeIdentifier(stack.db('edfi_255950_2627'))} WITH (FORCE)`),
    );
  });
});

describe('web UI of a deployment with instance deletes turned off @slow', function () {
  this.timeout(120_000);
  let browser: Browser;
  let stack: Stack;

  before(async function () {
    skipWithoutBrowser(this);
    [browser, stack] = await Promise.all([
      launchBrowser(),
      startStack({ worker: false, env: { INSTANCE_DELETES_ENABLED: 'false' } }),
    ]);
  });
  after(async () => {
    await browser?.close();
    await stack?.stop();
  });

  it('says so on the list and the instance page, and offers no Delete button', async () => {
    const worker = await stack.startWorker();
    const instance = await stack.createInstance('ui_deletes_off');
    await worker.stop();
    const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
    const watch = await watchPage(page);
    const operator = await new ClientStore(stack.dataSource).create('deletes-off-operator', SCOPES.fullAccess);
    await signInThroughUi(page, stack.baseUrl, operator);
    const row = page.locator('tbody tr', { hasText: instance.instanceName });
    await row.locator('.badge[data-status="Created"]').waitFor();
    await page.getByText('Deleting instances is turned off in this deployment').waitFor();
    expect(await row.getByRole('button', { name: /^Delete/ }).count()).to.equal(0);
    expect(await row.getByRole('button', { name: /^Rename/ }).count()).to.equal(1);
    await expectAccessible(page);
    await row.getByRole('link', { name: instance.instanceName }).click();
    await page.getByRole('heading', { name: instance.instanceName, level: 1 }).waitFor();
    await page.getByText('Deleting instances is turned off in this deployment').waitFor();
    expect(await page.getByRole('button', { name: 'Delete' }).count()).to.equal(0);
    await expectAccessible(page);
    watch.expectClean();
    await page.close();
  });
});
