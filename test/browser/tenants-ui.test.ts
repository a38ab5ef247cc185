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
import { type Stack, startStack } from '../support/stack';
import { waitFor } from '../support/wait';

describe('web UI with tenants and a year-specific mode (in a browser) @slow', function () {
  this.timeout(120_000);
  let browser: Browser;
  let stack: Stack;
  let page: Page;
  let watch: PageWatch;
  let operator: NewClient;

  before(async function () {
    skipWithoutBrowser(this);
    [browser, stack] = await Promise.all([
      launchBrowser(),
      startStack({ worker: false, env: { TENANTS: 'district-a,district-b', ODS_CONTEXT_KEYS: 'schoolYearFromRoute' } }),
    ]);
    operator = await new ClientStore(stack.dataSource).create('ui-tenants', SCOPES.fullAccess);
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

  it('asks for the school year instead of a database name, and shows one tenant at a time', async () => {
    const inB = await stack.request('POST', '/admin/instances', {
      headers: { tenant: 'district-b' },
      body: {
        instanceName: `Other tenant ${stack.id}`,
        odsInstanceContexts: [{ contextKey: 'schoolYearFromRoute', contextValue: '2024' }],
      },
    });
    expect(inB.status).to.equal(201);

    await signInThroughUi(page, stack.baseUrl, operator);
    const tenant = page.getByLabel('Tenant');
    expect(await tenant.inputValue()).to.equal('district-a');
    expect(await page.locator('tbody tr', { hasText: `Other tenant ${stack.id}` }).count()).to.equal(0);

    await page.getByRole('button', { name: 'New instance' }).click();
    const dialog = page.getByRole('dialog', { name: 'New instance' });
    await dialog.getByLabel('Instance name').fill(`Year ${stack.id}`);
    await dialog.getByLabel('schoolYearFromRoute').fill('2025');
    expect(await dialog.getByLabel('Database name (optional)').inputValue()).to.equal('');
    await expectAccessible(page);
    await dialog.getByRole('button', { name: 'Create instance' }).click();
    await dialog.waitFor({ state: 'detached' });
    const created = await waitFor(
      () => stack.dataSource.getRepository(InstanceEntity).findOneBy({ instanceName: `Year ${stack.id}` }),
      'the instance created through the form',
    );
    expect(created!).to.deep.include({ tenant: 'district-a', databaseName: 'EdFi_Ods_2025' });
    expect(created!.contexts).to.deep.equal([{ contextKey: 'schoolYearFromRoute', contextValue: '2025' }]);

    await page
      .locator('tbody tr', { hasText: `Year ${stack.id}` })
      .getByRole('link')
      .first()
      .click();
    await page.getByRole('heading', { name: `Year ${stack.id}`, level: 1 }).waitFor();
    const facts = await page.locator('dl.facts').textContent();
    expect(facts).to.contain('district-a').and.contain('schoolYearFromRoute=2025');

    await page.getByRole('link', { name: 'Instances', exact: true }).click();
    await page.getByRole('heading', { name: 'Instances', level: 1 }).waitFor();
    await tenant.selectOption('district-b');
    await page.locator('tbody tr', { hasText: `Other tenant ${stack.id}` }).waitFor();
    expect(await page.locator('tbody tr', { hasText: `Year ${stack.id}` }).count()).to.equal(0);
    await page.getByRole('link', { name: 'Jobs' }).click();
    await page.getByRole('heading', { name: 'Jobs', level: 1 }).waitFor();
    expect(watch.consoleErrors).to.deep.equal([]);
    expect(watch.cspViolations).to.deep.equal([]);
  });
});
