import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
import { ClientStore, type NewClient } from '../../api/auth/clients';
import { SCOPES } from '../../api/auth/scopes';
import { InstanceEntity } from '../../shared/database/entities';
import { databaseExists } from '../support/ods-server';
import {
  expectAccessible,
  launchBrowser,
  type PageWatch,
  signInThroughUi,
  skipWithoutBrowser,
  watchPage,
} from '../support/browser';
import { type Stack, startStack } from '../support/stack';

const year = (value: string) => ({ contextKey: 'schoolYearFromRoute', contextValue: value });
const district = (value: string) => ({ contextKey: 'districtIdFromRoute', contextValue: value });

describe('web UI: school-year rollover (in a browser) @slow', function () {
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
    operator = await new ClientStore(stack.dataSource).create('ui-rollover', SCOPES.fullAccess);
    const ids: string[] = [];
    for (const [instanceName, db, contexts] of [
      ['UI District 1 2025', 'rui_1_2025', [district('1'), year('2025')]],
      ['UI District 2 2025', 'rui_2_2025', [district('2'), year('2025')]],
      // Holds the name District 2's successor would take: that source is skipped.
      ['UI District 2 2026', 'rui_clash', [district('2'), year('2030')]],
    ] as const) {
      const r = await stack.request('POST', '/admin/instances', {
        body: { instanceName, databaseName: stack.db(db), odsInstanceContexts: contexts },
      });
      expect(r.status, JSON.stringify(r.body)).to.equal(201);
      ids.push(r.body.id);
    }
    for (const id of ids) await stack.waitForStatus(id, 'Created');
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

  it('previews the successors and the skipped sources with their reasons, creating nothing, then creates them', async () => {
    await signInThroughUi(page, stack.baseUrl, operator);
    await page.getByRole('button', { name: 'School-year rollover' }).click();
    const dialog = page.getByRole('dialog', { name: 'School-year rollover' });
    await dialog.waitFor();
    await dialog.getByLabel('From school year').fill('2025');
    await dialog.getByLabel('To school year').fill('2026');
    await dialog.getByRole('button', { name: 'Preview' }).click();

    const preview = dialog.getByRole('table', { name: 'Rollover preview' });
    await preview.waitFor();
    const rows = preview.locator('tbody tr');
    expect(await rows.count()).to.equal(2);
    expect(await rows.nth(0).locator('td').allTextContents()).to.deep.equal([
      'Create',
      'UI District 1 2026',
      stack.db('rui_1_2026'),
      '',
    ]);
    expect(await rows.nth(1).getAttribute('data-action')).to.equal('skip');
    expect(await rows.nth(1).locator('td').last().textContent()).to.match(/instanceName "UI District 2 2026" is taken/);
    expect(await dialog.locator('#rollover-summary').textContent()).to.equal('1 instance would be created, 1 skipped.');
    await expectAccessible(page);
    expect(await stack.dataSource.getRepository(InstanceEntity).count()).to.equal(3);

    await dialog.getByRole('button', { name: 'Create', exact: true }).click();
    await dialog.waitFor({ state: 'detached' });
    await page
      .locator('tbody tr', { hasText: 'UI District 1 2026' })
      .locator('.badge[data-status="Created"]')
      .waitFor({ timeout: 60_000 });
    expect(await databaseExists(stack.db('rui_1_2026'))).to.equal(true);
    expect(await stack.dataSource.getRepository(InstanceEntity).count()).to.equal(4);
    watch.expectClean();
  });

  it('shows the API’s refusal beside the field, and sends nothing more', async () => {
    await signInThroughUi(page, stack.baseUrl, operator);
    await page.getByRole('button', { name: 'School-year rollover' }).click();
    const dialog = page.getByRole('dialog', { name: 'School-year rollover' });
    await dialog.getByLabel('From school year').fill('2025');
    await dialog.getByLabel('To school year').fill('2025');
    await dialog.getByRole('button', { name: 'Preview' }).click();
    await dialog.locator('#rollover-toSchoolYear-error').filter({ hasText: 'must differ' }).waitFor();
    expect(await dialog.getByLabel('To school year').getAttribute('aria-invalid')).to.equal('true');
    await expectAccessible(page);
    // The 400 of the refused preview is the one console error this test causes on purpose.
    expect(watch.consoleErrors.filter((e) => !/status of 400/.test(e))).to.deep.equal([]);
    expect(watch.pageErrors).to.deep.equal([]);
  });
});
