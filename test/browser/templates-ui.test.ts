import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
import { ClientStore, type NewClient } from '../../api/auth/clients';
import { SCOPES } from '../../api/auth/scopes';
import { InstanceEntity } from '../../shared/database/entities';
import { shapeOf } from '../support/ods-server';
import { EDFI_TEMPLATE, SMALL_TEMPLATE } from '../support/settings';
import {
  expectAccessible,
  launchBrowser,
  type PageWatch,
  signInThroughUi,
  skipWithoutBrowser,
  watchPage,
} from '../support/browser';
import { type Stack, startStack } from '../support/stack';

describe('web UI: choosing the template of a new instance (in a browser) @slow', function () {
  this.timeout(120_000);
  let browser: Browser;
  let page: Page;
  let watch: PageWatch;
  let stack: Stack;
  let operator: NewClient;

  before(async function () {
    skipWithoutBrowser(this);
    browser = await launchBrowser();
    stack = await startStack({
      env: {
        ODS_TEMPLATES: JSON.stringify([
          { name: 'minimal', database: EDFI_TEMPLATE, description: 'Ed-Fi-sized stand-in' },
          { name: 'small', database: SMALL_TEMPLATE, description: 'a few tables' },
        ]),
      },
    });
    operator = await new ClientStore(stack.dataSource).create('ui-templates', SCOPES.fullAccess);
    page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
    watch = await watchPage(page);
  });
  after(async () => {
    await page?.close();
    await browser?.close();
    await stack?.stop();
  });

  it('offers the templates, the default first, and creates from the one chosen; the instance page names it', async () => {
    await signInThroughUi(page, stack.baseUrl, operator);
    await page.getByRole('button', { name: 'New instance' }).click();
    const dialog = page.getByRole('dialog', { name: 'New instance' });
    const template = dialog.getByLabel('Template');
    // The dialog fills the select from GET /admin/templates after it opens: read it once filled.
    await template.locator('option').nth(1).waitFor({ state: 'attached' });
    expect(await template.locator('option').allTextContents()).to.deep.equal([
      `minimal: Ed-Fi-sized stand-in (${EDFI_TEMPLATE})`,
      `small: a few tables (${SMALL_TEMPLATE})`,
    ]);
    expect(await template.inputValue()).to.equal('minimal');
    await expectAccessible(page);

    await dialog.getByLabel('Instance name').fill(`From small ${stack.id}`);
    await dialog.getByLabel('Database name').fill(stack.db('ui_small'));
    await template.selectOption('small');
    await dialog.getByRole('button', { name: 'Create instance' }).click();
    await dialog.waitFor({ state: 'detached' });

    const instance = await stack.dataSource
      .getRepository(InstanceEntity)
      .findOneByOrFail({ databaseName: stack.db('ui_small') });
    expect(instance.template).to.equal('small');
    await stack.waitForStatus(instance.id, 'Created');
    expect(await shapeOf(stack.db('ui_small'))).to.deep.equal(await shapeOf(SMALL_TEMPLATE));

    await page.goto(`${stack.baseUrl}/#/instances/${instance.id}`);
    const facts = page.locator('dl');
    await facts.getByText('Template').waitFor();
    expect(await facts.locator('dt:has-text("Template") + dd').textContent()).to.equal('small');
    expect(watch.consoleErrors).to.deep.equal([]);
    expect(watch.cspViolations).to.deep.equal([]);
  });
});
