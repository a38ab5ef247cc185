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

describe('web UI: create several instances at once (in a browser) @slow', function () {
  this.timeout(120_000);
  let browser: Browser;
  let page: Page;
  let watch: PageWatch;

  before(async function () {
    skipWithoutBrowser(this);
    browser = await launchBrowser();
  });
  after(async () => browser?.close());
  beforeEach(async () => {
    page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
    watch = await watchPage(page);
  });
  afterEach(async () => page.close());

  const instanceCount = (stack: Stack) => stack.dataSource.getRepository(InstanceEntity).count();

  async function openDialog() {
    await page.getByRole('button', { name: 'Create several' }).click();
    const dialog = page.getByRole('dialog', { name: 'Create several instances' });
    await dialog.waitFor();
    return dialog;
  }

  describe('where each line gives a database name', () => {
    let stack: Stack;
    let operator: NewClient;
    before(async () => {
      stack = await startStack();
      operator = await new ClientStore(stack.dataSource).create('ui-bulk', SCOPES.fullAccess);
    });
    after(async () => stack?.stop());

    it('previews the lines, shows the API’s refusal beside the line it concerns and creates nothing, then creates all', async () => {
      await signInThroughUi(page, stack.baseUrl, operator);
      const dialog = await openDialog();
      const lines = dialog.getByLabel('Instances, one per line');
      const names = [1, 2, 3].map((n) => `Bulk UI ${stack.id} ${n}`);
      await lines.fill(
        [
          `${names[0]}, ${stack.db('bulk_ui_1')}`,
          `"${names[1]}", bad name;drop`,
          `${names[2]}\t${stack.db('bulk_ui_3')}`,
        ].join('\n'),
      );
      const preview = dialog.getByRole('table', { name: 'Preview' });
      expect(await preview.locator('tbody tr').count()).to.equal(3);
      expect(await preview.locator('tbody tr').nth(2).locator('td').first().textContent()).to.equal(names[2]);
      await dialog.getByRole('button', { name: 'Create all' }).click();

      const alert = dialog.getByRole('alert');
      await alert.filter({ hasText: 'nothing was created' }).waitFor();
      const refused = preview.locator('tbody tr.invalid');
      expect(await refused.count()).to.equal(1);
      expect(await refused.getAttribute('data-line')).to.equal('2');
      expect(await refused.locator('td.error-text').textContent()).to.match(/databaseName/);
      expect(await lines.getAttribute('aria-invalid')).to.equal('true');
      expect(await lines.getAttribute('aria-describedby')).to.include('bulk-lines-error');
      expect(await dialog.locator('#bulk-lines-error').textContent()).to.match(/Line 2/);
      await expectAccessible(page);
      expect(await instanceCount(stack)).to.equal(0);

      await lines.fill(
        [
          `${names[0]}, ${stack.db('bulk_ui_1')}`,
          `"${names[1]}", ${stack.db('bulk_ui_2')}`,
          `${names[2]}\t${stack.db('bulk_ui_3')}`,
        ].join('\n'),
      );
      expect(await lines.getAttribute('aria-invalid')).to.equal(null);
      await dialog.getByRole('button', { name: 'Create all' }).click();
      await dialog.waitFor({ state: 'detached' });
      for (const name of names) {
        await page
          .locator('tbody tr', { hasText: name })
          .locator('.badge[data-status="Created"]')
          .waitFor({ timeout: 60_000 });
      }
      for (const n of [1, 2, 3]) expect(await databaseExists(stack.db(`bulk_ui_${n}`))).to.equal(true);
      // The 400 of the refused request is the one console error this test causes on purpose.
      expect(watch.consoleErrors.filter((e) => !/status of 400/.test(e))).to.deep.equal([]);
      expect(watch.pageErrors).to.deep.equal([]);
      expect(watch.cspViolations).to.deep.equal([]);
    });

    it('marks a line with the wrong number of values and sends nothing', async () => {
      await signInThroughUi(page, stack.baseUrl, operator);
      const before = await instanceCount(stack);
      const dialog = await openDialog();
      await dialog.getByLabel('Instances, one per line').fill(`Only a name ${stack.id}`);
      await dialog.getByRole('button', { name: 'Create all' }).click();
      await dialog.getByRole('alert').filter({ hasText: 'nothing was sent' }).waitFor();
      expect(await dialog.locator('tbody tr.invalid td.error-text').textContent()).to.match(/Expected 2 values/);
      await expectAccessible(page);
      expect(await instanceCount(stack)).to.equal(before);
      watch.expectClean();
    });
  });

  describe('where database names come from the contexts (ODS_CONTEXT_KEYS)', () => {
    let stack: Stack;
    let operator: NewClient;
    before(async () => {
      stack = await startStack({
        worker: false,
        env: {
          ODS_CONTEXT_KEYS: 'districtIdFromRoute,schoolYearFromRoute',
          ODS_DATABASE_NAME_PATTERN: 't_bulkui_{districtIdFromRoute}_{schoolYearFromRoute}',
        },
      });
      operator = await new ClientStore(stack.dataSource).create('ui-bulk-contexts', SCOPES.fullAccess);
    });
    after(async () => stack?.stop());

    it('takes the context values from each line and derives the database names', async () => {
      await signInThroughUi(page, stack.baseUrl, operator);
      const dialog = await openDialog();
      expect(await dialog.locator('#bulk-lines-hint').textContent()).to.include(
        'Instance name, districtIdFromRoute, schoolYearFromRoute, Database name (optional)',
      );
      await dialog
        .getByLabel('Instances, one per line')
        .fill(['255901', '255902'].map((d) => `District ${d} ${stack.id}, ${d}, 2027`).join('\n'));
      await expectAccessible(page);
      await dialog.getByRole('button', { name: 'Create all' }).click();
      await dialog.waitFor({ state: 'detached' });
      for (const d of ['255901', '255902']) {
        await page.locator('tbody tr', { hasText: `t_bulkui_${d}_2027` }).waitFor();
      }
      expect(await instanceCount(stack)).to.equal(2);
      watch.expectClean();
    });
  });
});
