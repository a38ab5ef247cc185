import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
import { ClientStore, type NewClient } from '../../api/auth/clients';
import { SCOPES } from '../../api/auth/scopes';
import { InstanceEntity } from '../../shared/database/entities';
import {
  expectAccessible,
  launchBrowser,
  type PageWatch,
  signInThroughUi,
  skipWithoutBrowser,
  watchPage,
} from '../support/browser';
import { ownerOf } from '../support/ods-server';
import { type Stack, startStack } from '../support/stack';

describe('web UI: copy an instance (in a browser) @slow', function () {
  this.timeout(120_000);
  let browser: Browser;
  let page: Page;
  let watch: PageWatch;
  let stack: Stack;
  let operator: NewClient;

  before(async function () {
    skipWithoutBrowser(this);
    browser = await launchBrowser();
    stack = await startStack();
    operator = await new ClientStore(stack.dataSource).create('ui-copy', SCOPES.fullAccess);
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

  it('asks for consent to end the source’s sessions on PostgreSQL, refuses without it, then copies and links the source', async () => {
    const source = await stack.createInstance('ui_src');
    await signInThroughUi(page, stack.baseUrl, operator);
    await page.getByRole('button', { name: 'New instance' }).click();
    const dialog = page.getByRole('dialog', { name: 'New instance' });
    const consent = dialog.getByLabel("End the source's sessions while copying");
    expect(await consent.isVisible()).to.equal(false); // no source chosen: nothing to consent to
    await dialog.getByLabel('Instance name').fill(`UI copy ${stack.id}`);
    await dialog.getByLabel('Database name').fill(stack.db('ui_copy'));
    await dialog.getByLabel('Copy of').selectOption(source.id);
    await consent.waitFor();
    expect(await dialog.locator('#create-disconnectSource-hint').textContent()).to.match(/closed to new connections/);

    const before = await stack.dataSource.getRepository(InstanceEntity).count();
    await dialog.getByRole('button', { name: 'Create instance' }).click();
    await dialog
      .locator('#create-disconnectSource-error')
      .filter({ hasText: /nobody is connected/ })
      .waitFor();
    expect(await consent.getAttribute('aria-invalid')).to.equal('true');
    expect(await stack.dataSource.getRepository(InstanceEntity).count()).to.equal(before);
    await expectAccessible(page);

    await consent.check();
    await dialog.getByRole('button', { name: 'Create instance' }).click();
    await dialog.waitFor({ state: 'detached' });
    const copy = await stack.dataSource
      .getRepository(InstanceEntity)
      .findOneByOrFail({ databaseName: stack.db('ui_copy') });
    expect(copy.sourceInstanceId).to.equal(source.id);
    await stack.waitForStatus(copy.id, 'Created');
    expect(await ownerOf(stack.db('ui_copy'))).to.equal(copy.id);

    await page.goto(`${stack.baseUrl}/#/instances/${copy.id}`);
    const link = page.locator('[data-key="copy-of"]');
    await link.waitFor();
    expect(await link.textContent()).to.equal(source.instanceName);
    expect(await link.getAttribute('href')).to.equal(`#/instances/${source.id}`);
    await expectAccessible(page);
    // The refused POST is the only failed request; nothing else went wrong on the page.
    expect(watch.pageErrors).to.deep.equal([]);
    expect(watch.cspViolations).to.deep.equal([]);
  });
});
