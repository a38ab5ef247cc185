import { expect } from 'chai';
import { AuditEventEntity } from '../../shared/database/entities';
import { connectTo, databaseExists, ownerOf, shapeOf } from '../support/ods-server';
import { EDFI_TEMPLATE } from '../support/settings';
import { Stack, startStack } from '../support/stack';

describe('instance lifecycle on PostgreSQL', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack();
  });
  after(async () => stack.stop());

  it('creates, renames and deletes an instance, and the server follows each step', async () => {
    const databaseName = stack.db('life');
    const created = await stack.request('POST', '/admin/instances', {
      body: { instanceName: `Grand Bend ${stack.id}`, databaseName },
    });
    expect(created.status).to.equal(201);
    expect(created.body).to.include({ status: 'PendingCreate', databaseName, instanceName: `Grand Bend ${stack.id}` });
    expect(created.headers.get('location')).to.equal(`/admin/instances/${created.body.id}`);
    expect(created.body._links.job.href).to.equal(`/admin/jobs/${created.body.job.id}`);

    const ready = await stack.waitForStatus(created.body.id, 'Created');
    expect(ready.job).to.include({ type: 'create', status: 'succeeded' });
    expect(await databaseExists(databaseName)).to.equal(true);
    expect(await ownerOf(databaseName)).to.equal(created.body.id);
    const template = await shapeOf(EDFI_TEMPLATE);
    expect(template.tablesAndViews).to.be.greaterThan(700);
    expect(template.relations).to.be.greaterThan(2600);
    expect(await shapeOf(databaseName)).to.deep.equal(template);

    const job = await stack.request('GET', created.body._links.job.href);
    expect(job.status).to.equal(200);
    expect(job.body).to.include({
      type: 'create',
      status: 'succeeded',
      attempts: 1,
      error: null,
      targetDatabaseName: databaseName,
    });
    expect(job.body.startedAt).to.be.a('string');
    expect(job.body.finishedAt).to.be.a('string');

    const newName = stack.db('life_renamed');
    const renamed = await stack.request('PUT', `/admin/instances/${created.body.id}`, {
      body: { databaseName: newName, instanceName: `Grand Bend ${stack.id} 2024` },
    });
    expect(renamed.status).to.equal(200);
    expect(renamed.body).to.include({ status: 'PendingRename', instanceName: `Grand Bend ${stack.id} 2024` });
    const afterRename = await stack.waitForStatus(created.body.id, 'Created');
    expect(afterRename).to.include({ databaseName: newName, previousDatabaseName: databaseName });
    expect(await databaseExists(databaseName)).to.equal(false);
    expect(await ownerOf(newName)).to.equal(created.body.id);

    const deleted = await stack.request('DELETE', `/admin/instances/${created.body.id}`);
    expect(deleted.status).to.equal(200);
    expect(deleted.body.status).to.equal('PendingDelete');
    const gone = await stack.waitForStatus(created.body.id, 'Deleted');
    expect(gone.deletedAt).to.be.a('string');
    expect(await databaseExists(newName)).to.equal(false);

    const jobs = await stack.request('GET', `/admin/instances/${created.body.id}/jobs`);
    expect(jobs.body.map((j: { type: string; status: string }) => `${j.type}:${j.status}`)).to.deep.equal([
      'delete:succeeded',
      'rename:succeeded',
      'create:succeeded',
    ]);

    const audit = await stack.dataSource
      .getRepository(AuditEventEntity)
      .find({ where: { instanceId: created.body.id }, order: { occurredAt: 'ASC' } });
    expect(audit.map((a) => `${a.action}:${a.outcome}`)).to.deep.equal([
      'instance.create:accepted',
      'instance.create:succeeded',
      'instance.rename:accepted',
      'instance.rename:succeeded',
      'instance.delete:accepted',
      'instance.delete:succeeded',
    ]);
    expect(audit[0]!.requestId).to.equal(created.headers.get('x-request-id'));
  });

  it('keeps a deleted instance as history, listed only when asked, and frees its names', async () => {
    const first = await stack.createInstance('history');
    await stack.request('DELETE', `/admin/instances/${first.id}`);
    await stack.waitForStatus(first.id, 'Deleted');
    const listed = await stack.request('GET', '/admin/instances?limit=500');
    expect(listed.body.map((i: { id: string }) => i.id)).not.to.include(first.id);
    const withDeleted = await stack.request('GET', '/admin/instances?includeDeleted=true&limit=500');
    expect(withDeleted.body.map((i: { id: string }) => i.id)).to.include(first.id);
    const again = await stack.request('POST', '/admin/instances', {
      body: { instanceName: first.instanceName, databaseName: first.databaseName },
    });
    expect(again.status).to.equal(201);
    await stack.waitForStatus(again.body.id, 'Created');
  });

  it('renames a database while an application is connected to it, ending its sessions', async () => {
    const instance = await stack.createInstance('busy_rename');
    const app = await connectTo(instance.databaseName);
    const ended = new Promise<boolean>((resolve) =>
      app.on('error', () => resolve(true)).on('end', () => resolve(true)),
    );
    try {
      const to = stack.db('busy_renamed');
      const r = await stack.request('PUT', `/admin/instances/${instance.id}`, { body: { databaseName: to } });
      expect(r.status).to.equal(200);
      const done = await stack.waitForStatus(instance.id, 'Created');
      expect(done.databaseName).to.equal(to);
      expect(await ended).to.equal(true);
      const reconnect = await connectTo(to);
      await reconnect.end();
    } finally {
      await app.end().catch(() => undefined);
    }
  });

  it('deletes a database while an application is connected to it, ending its sessions', async () => {
    const instance = await stack.createInstance('busy_delete');
    const app = await connectTo(instance.databaseName);
    const ended = new Promise<boolean>((resolve) =>
      app.on('error', () => resolve(true)).on('end', () => resolve(true)),
    );
    try {
      await stack.request('DELETE', `/admin/instances/${instance.id}`);
      await stack.waitForStatus(instance.id, 'Deleted');
      expect(await ended).to.equal(true);
      expect(await databaseExists(instance.databaseName)).to.equal(false);
    } finally {
      await app.end().catch(() => undefined);
    }
  });

  it('renames only the instanceName without a job when the database name is unchanged', async () => {
    const instance = await stack.createInstance('meta');
    const r = await stack.request('PUT', `/admin/instances/${instance.id}`, {
      body: { instanceName: `Renamed ${stack.id}` },
    });
    expect(r.status).to.equal(200);
    expect(r.body).to.include({
      status: 'Created',
      instanceName: `Renamed ${stack.id}`,
      databaseName: instance.databaseName,
    });
    const jobs = await stack.request('GET', `/admin/instances/${instance.id}/jobs`);
    expect(jobs.body).to.have.length(1);
  });

  it('pages and filters the list', async () => {
    const a = await stack.createInstance('page_a');
    await stack.createInstance('page_b');
    const page = await stack.request('GET', '/admin/instances?offset=0&limit=1');
    expect(page.status).to.equal(200);
    expect(page.body).to.have.length(1);
    expect(Number(page.headers.get('total-count'))).to.be.greaterThan(1);
    const byName = await stack.request(
      'GET',
      `/admin/instances?instanceName=${encodeURIComponent(a.instanceName.toUpperCase())}`,
    );
    expect(byName.body.map((i: { id: string }) => i.id)).to.deep.equal([a.id]);
    const byStatus = await stack.request('GET', '/admin/instances?status=Created&limit=500');
    expect(byStatus.body.every((i: { status: string }) => i.status === 'Created')).to.equal(true);
  });
});
