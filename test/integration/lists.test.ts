import { expect } from 'chai';
import { withServer } from '../support/ods-server';
import { type HttpResult, type Stack, startStack } from '../support/stack';

function expectProblem(r: HttpResult, status: number): void {
  expect(r.status, JSON.stringify(r.body)).to.equal(status);
  expect(r.headers.get('content-type')).to.match(/^application\/problem\+json/);
}

describe('lists for the web UI: jobs across instances, newest first, and what each instance allows now', () => {
  let stack: Stack;
  let created: any[];
  let failed: any;

  before(async () => {
    stack = await startStack();
    created = [];
    for (const suffix of ['list_a', 'list_b', 'list_c']) created.push(await stack.createInstance(suffix));
    const blocked = stack.db('list_blocked');
    await withServer((c) => c.query(`CREATE DATABASE ${c.escapeIdentifier(blocked)}`));
    const r = await stack.request('POST', '/admin/instances', {
      body: { instanceName: `Blocked ${stack.id}`, databaseName: blocked },
    });
    failed = await stack.waitForStatus(r.body.id, 'CreateFailed');
    await withServer((c) => c.query(`DROP DATABASE ${c.escapeIdentifier(blocked)} WITH (FORCE)`));
  });
  after(async () => stack.stop());

  it('lists instances newest first with order=desc, oldest first by default', async () => {
    const asc = await stack.request('GET', '/admin/instances');
    const desc = await stack.request('GET', '/admin/instances?order=desc');
    expect(asc.status).to.equal(200);
    const ids = asc.body.map((i: { id: string }) => i.id);
    expect(ids).to.deep.equal([...created.map((i) => i.id), failed.id]);
    expect(desc.body.map((i: { id: string }) => i.id)).to.deep.equal([...ids].reverse());
    expect(desc.headers.get('total-count')).to.equal('4');
    const page = await stack.request('GET', '/admin/instances?order=desc&limit=2&offset=1');
    expect(page.body.map((i: { id: string }) => i.id)).to.deep.equal(ids.slice().reverse().slice(1, 3));
  });

  it('refuses an unknown order with 400 naming the field', async () => {
    const r = await stack.request('GET', '/admin/instances?order=sideways');
    expectProblem(r, 400);
    expect(Object.keys(r.body.errors)).to.deep.equal(['order']);
  });

  it('links each instance to what may be asked of it now: rename, delete and release when Created, retry, delete and release when failed', async () => {
    const ok = (await stack.request('GET', `/admin/instances/${created[0].id}`)).body;
    expect(Object.keys(ok._links).sort()).to.deep.equal([
      'delete',
      'job',
      'jobs',
      'protect',
      'release',
      'rename',
      'self',
    ]);
    const bad = (await stack.request('GET', `/admin/instances/${failed.id}`)).body;
    expect(Object.keys(bad._links).sort()).to.deep.equal([
      'delete',
      'job',
      'jobs',
      'protect',
      'release',
      'retry',
      'self',
    ]);
    const deleting = await stack.request('DELETE', `/admin/instances/${created[2].id}`);
    expect(deleting.body.status).to.equal('PendingDelete');
    expect(deleting.body._links).to.not.have.any.keys('rename', 'delete', 'release', 'retry', 'protect');
    const gone = await stack.waitForStatus(created[2].id, 'Deleted');
    expect(gone._links).to.not.have.any.keys('rename', 'delete', 'release', 'retry', 'protect', 'unprotect');
  });

  it('lists every instance’s jobs newest first, with Total-Count and paging', async () => {
    const all = await stack.request('GET', '/admin/jobs');
    expect(all.status).to.equal(200);
    const total = Number(all.headers.get('total-count'));
    expect(total).to.equal(all.body.length).and.to.be.at.least(4);
    const times = all.body.map((j: { createdAt: string }) => Date.parse(j.createdAt));
    expect(times).to.deep.equal([...times].sort((a, b) => b - a));
    const second = await stack.request('GET', '/admin/jobs?limit=1&offset=1');
    expect(second.body.map((j: { id: string }) => j.id)).to.deep.equal([all.body[1].id]);
  });

  it('filters jobs by status: the failed create is there, with its error, for an operator to see', async () => {
    const r = await stack.request('GET', '/admin/jobs?status=failed');
    expect(r.body.map((j: { instanceId: string }) => j.instanceId)).to.deep.equal([failed.id]);
    expect(r.body[0].error).to.contain(stack.db('list_blocked'));
    const readOnly = await stack.request('GET', '/admin/jobs?status=failed', { token: stack.tokens.read });
    expect(readOnly.body[0].error).to.not.contain(stack.db('list_blocked')); // a summary, as on every route
  });

  it('refuses a bad status, limit or unknown parameter with 400, and other methods with 405', async () => {
    for (const query of ['status=exploded', 'limit=0', 'limit=501', 'offset=-1', 'colour=red']) {
      expectProblem(await stack.request('GET', `/admin/jobs?${query}`), 400);
    }
    const post = await stack.request('POST', '/admin/jobs', { body: {} });
    expectProblem(post, 405);
    expect(post.headers.get('allow')).to.equal('GET, HEAD');
  });

  it('needs a token', async () => {
    expectProblem(await stack.request('GET', '/admin/jobs', { token: null }), 401);
  });
});
