import { expect } from 'chai';
import { InstanceEntity, JobEntity } from '../../shared/database/entities';
import { databaseExists, dropDatabases, shapeOf, withServer } from '../support/ods-server';
import { EDFI_TEMPLATE, SMALL_TEMPLATE, urlFor } from '../support/settings';
import { type HttpResult, type Stack, startStack } from '../support/stack';
import { waitFor } from '../support/wait';

function expectProblem(r: HttpResult, status: number, field: string, message: RegExp): void {
  expect(r.status, JSON.stringify(r.body)).to.equal(status);
  expect(r.headers.get('content-type')).to.match(/^application\/problem\+json/);
  const messages: string[] = r.body.errors?.[field] ?? [r.body.detail];
  expect(messages.join('\n'), JSON.stringify(r.body)).to.match(message);
}

describe('templates: GET /admin/templates and creates from a chosen template', () => {
  let stack: Stack;
  const missing = 'odsim_test_template_that_is_not_there';
  // A template as Ed-Fi ships them: util.GetEdFiOdsVersion() and util.GetEdFiStandardVersion().
  const versioned = `odsim_test_tpl_versioned_${process.pid}`;
  before(async () => {
    await withServer(async (c) => {
      await c.query(`DROP DATABASE IF EXISTS ${versioned}`);
      await c.query(`CREATE DATABASE ${versioned}`);
    });
    await withServer(async (c) => {
      await c.query('CREATE SCHEMA util');
      await c.query(`CREATE FUNCTION util.GetEdFiOdsVersion() RETURNS text LANGUAGE sql AS $$ SELECT '7.3.1' $$`);
      await c.query(`CREATE FUNCTION util.GetEdFiStandardVersion() RETURNS text LANGUAGE sql AS $$ SELECT '5.2.0' $$`);
    }, urlFor(versioned));
    stack = await startStack({
      env: {
        ODS_TEMPLATES: JSON.stringify([
          { name: 'minimal', database: EDFI_TEMPLATE, description: 'Ed-Fi-sized stand-in' },
          { name: 'small', database: SMALL_TEMPLATE, strategy: 'file_copy', description: 'a few tables' },
          { name: 'gone', database: missing },
          { name: 'versioned', database: versioned },
        ]),
      },
    });
  });
  after(async () => {
    await stack.stop();
    await dropDatabases([versioned]);
  });

  const counts = async () => ({
    instances: await stack.dataSource.getRepository(InstanceEntity).count(),
    jobs: await stack.dataSource.getRepository(JobEntity).count(),
  });

  it('lists every configured template, the default marked', async () => {
    const r = await stack.request('GET', '/admin/templates');
    expect(r.status).to.equal(200);
    expect(
      r.body.map((t: { name: string; databaseName: string; default: boolean; strategy: string | null }) => [
        t.name,
        t.databaseName,
        t.default,
        t.strategy,
      ]),
    ).to.deep.equal([
      ['minimal', EDFI_TEMPLATE, true, null],
      ['small', SMALL_TEMPLATE, false, 'file_copy'],
      ['gone', missing, false, null],
      ['versioned', versioned, false, null],
    ]);
    // No inventory has run yet: the API knows nothing of the server.
    expect(r.body.map((t: { inventory: unknown }) => t.inventory)).to.deep.equal([null, null, null, null]);
    expect(r.body[0].description).to.equal('Ed-Fi-sized stand-in');
    expect((await stack.request('DELETE', '/admin/templates')).status).to.equal(405);
  });

  it("shows what the worker's inventory saw of each template: exists, size, Ed-Fi versions, with their age", async () => {
    expect((await stack.request('POST', '/admin/inventory')).status).to.equal(202);
    const listed = await waitFor(
      async () => {
        const r = await stack.request('GET', '/admin/templates');
        return r.body.every((t: { inventory: unknown }) => t.inventory !== null) ? r.body : undefined;
      },
      'the templates to carry inventory facts',
      60_000,
    );
    const byName = Object.fromEntries(listed.map((t: { name: string; inventory: any }) => [t.name, t.inventory]));
    for (const name of ['minimal', 'small', 'versioned']) {
      expect(byName[name].exists, name).to.equal(true);
      expect(byName[name].sizeBytes, name).to.be.greaterThan(1_000_000);
      expect(byName[name].ageSeconds, name).to.be.within(0, 60);
    }
    expect(byName.versioned).to.deep.include({ edfiOdsVersion: '7.3.1', edfiStandardVersion: '5.2.0' });
    expect(byName.small).to.deep.include({ edfiOdsVersion: null, edfiStandardVersion: null });
    expect(byName.gone).to.deep.include({ exists: false, sizeBytes: null });
  });

  it('copies the named template (case-insensitively), records it on the instance and the job, and the copy has its shape', async () => {
    const created = await stack.request('POST', '/admin/instances', {
      body: { instanceName: `Small ${stack.id}`, databaseName: stack.db('small'), template: 'Small' },
    });
    expect(created.status, JSON.stringify(created.body)).to.equal(201);
    expect(created.body.template).to.equal('small');
    const done = await stack.waitForStatus(created.body.id, 'Created');
    expect(done.template).to.equal('small');
    const job = await stack.dataSource.getRepository(JobEntity).findOneByOrFail({ id: created.body.job.id });
    expect(job.sourceDatabaseName).to.equal(SMALL_TEMPLATE);
    expect(await shapeOf(stack.db('small'))).to.deep.equal(await shapeOf(SMALL_TEMPLATE));
    expect(await shapeOf(SMALL_TEMPLATE)).not.to.deep.equal(await shapeOf(EDFI_TEMPLATE));

    // Left out: the default template.
    const plain = await stack.createInstance('plain');
    expect(plain.template).to.equal('minimal');
    expect(await shapeOf(stack.db('plain'))).to.deep.equal(await shapeOf(EDFI_TEMPLATE));
  });

  it('refuses a template that is not configured, in a create and in a bulk item, and records nothing', async () => {
    const before = await counts();
    expectProblem(
      await stack.request('POST', '/admin/instances', {
        body: { instanceName: `Nope ${stack.id}`, databaseName: stack.db('nope'), template: 'sandbox' },
      }),
      400,
      'template',
      /template "sandbox" is not configured; the templates are minimal, small, gone, versioned/,
    );
    expectProblem(
      await stack.request('POST', '/admin/instances', {
        body: { instanceName: `Nope ${stack.id}`, databaseName: stack.db('nope'), template: 'two words' },
      }),
      400,
      'template',
      /template must be a template's name/,
    );
    expectProblem(
      await stack.request('POST', '/admin/instances/bulk', {
        body: {
          instances: [
            { instanceName: `Bulk A ${stack.id}`, databaseName: stack.db('bulk_a'), template: 'small' },
            { instanceName: `Bulk B ${stack.id}`, databaseName: stack.db('bulk_b'), template: 'sandbox' },
          ],
        },
      }),
      400,
      'instances[1].template',
      /not configured/,
    );
    expect(await counts()).to.deep.equal(before);
    expect(await databaseExists(stack.db('nope'))).to.equal(false);
  });

  it("never targets a template's database: create, bulk and rename are refused with 400", async () => {
    const before = await counts();
    for (const databaseName of [SMALL_TEMPLATE, SMALL_TEMPLATE.toUpperCase(), missing])
      expectProblem(
        await stack.request('POST', '/admin/instances', { body: { instanceName: `T ${stack.id}`, databaseName } }),
        400,
        'databaseName',
        /reserved/,
      );
    expectProblem(
      await stack.request('POST', '/admin/instances/bulk', {
        body: { instances: [{ instanceName: `T ${stack.id}`, databaseName: EDFI_TEMPLATE }] },
      }),
      400,
      'instances[0].databaseName',
      /reserved/,
    );
    const instance = await stack.createInstance('renamed');
    expectProblem(
      await stack.request('PUT', `/admin/instances/${instance.id}`, { body: { databaseName: SMALL_TEMPLATE } }),
      400,
      'databaseName',
      /reserved/,
    );
    expect((await counts()).instances).to.equal(before.instances + 1);
  });

  it('a template whose database is missing fails the create for good, naming it', async () => {
    const created = await stack.request('POST', '/admin/instances', {
      body: { instanceName: `Gone ${stack.id}`, databaseName: stack.db('gone'), template: 'gone' },
    });
    expect(created.status).to.equal(201);
    const failed = await stack.waitForStatus(created.body.id, 'CreateFailed');
    expect(failed.lastError).to.include(`template database "${missing}" does not exist`);
    expect(await databaseExists(stack.db('gone'))).to.equal(false);
  });
});
