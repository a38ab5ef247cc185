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

  it('pages by cursor in either order: Next-Cursor and Link rel="next" lead through the same rows as offsets', async () => {
    // Two created in the same millisecond: the id decides between them, in the cursor as in the order.
    await stack.dataSource.query(
      `UPDATE instances SET created_at = (SELECT created_at FROM instances WHERE id = $1) WHERE id = $2`,
      [created[0].id, created[1].id],
    );
    for (const order of ['asc', 'desc']) {
      const all = (await stack.request('GET', `/admin/instances?order=${order}`)).body.map((i: { id: string }) => i.id);
      expect(all).to.have.length(4);
      const seen: string[] = [];
      let path: string | null = `/admin/instances?order=${order}&limit=1`;
      while (path) {
        const r: HttpResult = await stack.request('GET', path);
        expect(r.status, JSON.stringify(r.body)).to.equal(200);
        expect(r.headers.get('total-count')).to.equal('4');
        seen.push(...r.body.map((i: { id: string }) => i.id));
        const link = r.headers.get('link');
        const cursor = r.headers.get('next-cursor');
        if (!link) {
          expect(cursor).to.equal(null);
          break;
        }
        const target = /^<([^>]+)>; rel="next"$/.exec(link)?.[1];
        expect(target).to.match(new RegExp(`^/admin/instances\\?order=${order}&limit=1&after=`));
        expect(new URL(target!, 'http://x').searchParams.get('after')).to.equal(cursor);
        path = target!;
      }
      expect(seen, order).to.deep.equal(all);
    }
    // A page from an offset links on by cursor too, without the offset, keeping the filters.
    const page = await stack.request('GET', '/admin/instances?limit=2&offset=1&includeDeleted=true');
    const link = /^<([^>]+)>/.exec(page.headers.get('link') ?? '')?.[1];
    expect(link).to.equal(`/admin/instances?limit=2&includeDeleted=true&after=${page.headers.get('next-cursor')}`);
    const after = await stack.request('GET', link!);
    const ids = (await stack.request('GET', '/admin/instances')).body.map((i: { id: string }) => i.id);
    expect(after.body.map((i: { id: string }) => i.id)).to.deep.equal(ids.slice(3, 5));
  });

  it('refuses a cursor it did not make, and a cursor with an offset, with 400 naming after', async () => {
    const first = await stack.request('GET', '/admin/instances?limit=1');
    const cursor = first.headers.get('next-cursor')!;
    expect(cursor).to.be.a('string');
    const forged = Buffer.from('not a cursor').toString('base64url');
    const wrongId = Buffer.from(`${Date.now()}.not-a-uuid-not-a-uuid-not-a-uuid-xxxx`).toString('base64url');
    for (const query of [
      `after=${forged}`,
      `after=${wrongId}`,
      'after=%2F%2F%2F',
      'after=',
      `after=${cursor}&offset=0`,
    ]) {
      const r = await stack.request('GET', `/admin/instances?${query}`);
      expectProblem(r, 400);
      expect(Object.keys(r.body.errors), query).to.deep.equal(['after']);
    }
    const both = await stack.request('GET', `/admin/instances?offset=1&after=${cursor}`);
    expect(both.body.errors.after.join(' ')).to.match(/offset/);
    // Nothing changed: the list is as it was.
    expect((await stack.request('GET', '/admin/instances?limit=1')).body).to.deep.equal(first.body);
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
