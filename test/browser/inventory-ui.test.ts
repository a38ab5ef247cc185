import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
import { ClientStore } from '../../api/auth/clients';
import { SCOPES } from '../../api/auth/scopes';
import { withServer } from '../support/ods-server';
import { expectAccessible, launchBrowser, signInThroughUi, skipWithoutBrowser, watchPage } from '../support/browser';
import { type Stack, startStack } from '../support/stack';
import { waitFor } from '../support/wait';

describe('web UI: inventory and drift (in a browser) @slow', function () {
  this.timeout(120_000);
  let browser: Browser;
  let page: Page;
  let stack: Stack;

  before(async function () {
    skipWithoutBrowser(this);
    browser = await launchBrowser();
    // On demand only: the run is the one the UI asks for.
    stack = await startStack();
  });
  after(async () => {
    await browser?.close();
    await stack?.stop();
  });

  it('asks for an inventory, then shows the size, and a drift badge with its detail as text for a database dropped by hand', async () => {
    const kept = await stack.createInstance('ui_kept');
    const dropped = await stack.createInstance('ui_dropped');
    await withServer((c) => c.query(`DROP DATABASE ${c.escapeIdentifier(dropped.databaseName)} WITH (FORCE)`));

    const operator = await new ClientStore(stack.dataSource).create('ui-inventory', SCOPES.fullAccess);
    page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
    const watch = await watchPage(page);
    await signInThroughUi(page, stack.baseUrl, operator);
    // The run waits for a worker longer than a fixed refresh would wait: no worker until the request has sat 5 s.
    await stack.stopWorkers();
    await page.getByRole('button', { name: 'Refresh inventory' }).click();
    await page.waitForTimeout(5000);
    await stack.startWorker();

    // No reload by hand: the page follows the run it asked for and redraws once it has finished.
    const droppedRow = page.locator(`tr[data-instance-id="${dropped.id}"]`);
    const badge = droppedRow.locator('[data-drift="missing"]');
    await badge.waitFor({ timeout: 60_000 });
    expect(await badge.textContent()).to.equal('Drift: database missing');
    expect(await droppedRow.locator('.drift-detail').textContent()).to.match(/is not on the server/);
    expect(await droppedRow.textContent(), 'status unchanged').to.include('Created');
    const keptRow = page.locator(`tr[data-instance-id="${kept.id}"]`);
    expect(await keptRow.locator('[data-drift]').count()).to.equal(0);
    expect(await keptRow.locator('.db-size').textContent()).to.match(/^\d+(\.\d)? (kB|MB|GB)$/);
    await expectAccessible(page);

    // A run asked for elsewhere (here, by the API) shows once the user presses Apply, even with the filters unchanged.
    await withServer((c) => c.query(`DROP DATABASE ${c.escapeIdentifier(kept.databaseName)} WITH (FORCE)`));
    expect((await stack.request('POST', '/admin/inventory')).status).to.equal(202);
    await waitFor(
      async () => (await stack.request('GET', `/admin/instances/${kept.id}`)).body.drift,
      'the second run to see the second drop',
      60_000,
    );
    expect(await keptRow.locator('[data-drift]').count(), 'not redrawn before Apply').to.equal(0);
    await page.getByRole('button', { name: 'Apply' }).click();
    await keptRow.locator('[data-drift="missing"]').waitFor({ timeout: 10_000 });

    await droppedRow.getByRole('link', { name: dropped.instanceName }).click();
    await page.getByRole('heading', { name: dropped.instanceName, level: 1 }).waitFor();
    expect(await page.locator('dl.facts').textContent()).to.include('the database was not on the server');
    expect(await page.locator('dl.facts [data-drift="missing"]').count()).to.equal(1);
    await expectAccessible(page);
    watch.expectClean();
    await page.close();
  });
});
