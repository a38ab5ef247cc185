import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
import { ClientStore } from '../../api/auth/clients';
import { SCOPES } from '../../api/auth/scopes';
import { expectServerMatchesRecords } from '../support/consistency';
import { connectTo, databaseExists, ownerOf, withServer } from '../support/ods-server';
import {
  expectAccessible,
  launchBrowser,
  type PageWatch,
  signInThroughUi,
  skipWithoutBrowser,
  watchPage,
} from '../support/browser';
import { type Stack, startStack } from '../support/stack';

describe('web UI: adopt an existing database and release it @slow', function () {
  this.timeout(120_000);
  let browser: Browser;
  let stack: Stack;
  let page: Page;
  let watch: PageWatch;
  let full: { client_id: string; client_secret: string };

  before(async function () {
    skipWithoutBrowser(this);
    [browser, stack] = await Promise.all([launchBrowser(), startStack()]);
    full = await new ClientStore(stack.dataSource).create('ui-adopter', SCOPES.fullAccess);
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

  const row = (text: string) => page.locator('tbody tr', { hasText: text });

  it('adopts through the create form (an Adopted badge), then releases after a dialog that says the database is kept', async () => {
    const database = stack.db('ui_adopt');
    await withServer((c) => c.query(`CREATE DATABASE ${c.escapeIdentifier(database)}`));
    const session = await connectTo(database);
    await session.query('CREATE TABLE kept (id int)');
    await session.end();

    await signInThroughUi(page, stack.baseUrl, full);
    const name = `Adopted ${stack.id}`;
    await page.getByRole('button', { name: 'New instance' }).click();
    const form = page.getByRole('dialog', { name: 'New instance' });
    await form.getByLabel('Instance name').fill(name);
    await form.getByLabel('Database name').fill(database);
    await form.getByLabel('Adopt existing database').check();
    await expectAccessible(page);
    await form.getByRole('button', { name: 'Create instance' }).click();
    await form.waitFor({ state: 'detached' });
    await row(name).locator('.badge[data-status="Created"]').waitFor({ timeout: 60_000 });
    expect(await row(name).locator('.badge[data-adopted]').textContent()).to.equal('Adopted');
    const id = (await stack.request('GET', `/admin/instances?instanceName=${encodeURIComponent(name)}`)).body[0].id;
    expect(await ownerOf(database)).to.equal(id);

    await row(name)
      .getByRole('button', { name: `Release ${name}` })
      .click();
    const confirm = page.getByRole('dialog', { name: `Release ${name}?` });
    expect(await confirm.locator('[data-key="release-explanation"]').textContent()).to.include(
      `The database ${database} is kept, with all its data`,
    );
    await expectAccessible(page);
    await confirm.getByRole('button', { name: 'Release (keep the database)' }).click();
    await confirm.waitFor({ state: 'detached' });
    await row(name).waitFor({ state: 'detached', timeout: 60_000 }); // Released leaves the default list, as Deleted does
    await stack.waitForStatus(id, 'Released');
    expect(await databaseExists(database)).to.equal(true);
    expect(await ownerOf(database)).to.equal(null);

    // Shown as history when asked for.
    await page.goto(`${stack.baseUrl}/#/instances?status=Released`);
    const badge = row(name).locator('.badge[data-status="Released"]');
    await badge.waitFor();
    expect(await badge.getAttribute('class')).to.include('badge-neutral');
    await expectServerMatchesRecords(stack);
    watch.expectClean();
  });
});
