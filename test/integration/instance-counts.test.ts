import { expect } from 'chai';
import { InstanceCounts1764260000000 } from '../../shared/database/migrations/postgres/1764260000000-InstanceCounts';
import { withServer } from '../support/ods-server';
import { type Stack, startStack } from '../support/stack';

interface Count {
  tenant: string;
  status: string;
  n: number;
}

/** The instances per (tenant, status), counted from the rows. */
const counted = (stack: Stack) =>
  stack.dataSource.query<Count[]>(
    `SELECT tenant, status, COUNT(*)::int AS n FROM instances GROUP BY tenant, status ORDER BY tenant, status`,
  );

/**
 * Both, side by side, from one statement: one snapshot, so a worker that moves an instance on
 * meanwhile cannot make them differ.
 */
async function expectCountsTrue(stack: Stack): Promise<void> {
  const both = await stack.dataSource.query<{ tenant: string; status: string; counted: number; kept: number }[]>(
    `SELECT tenant, status, COALESCE(r.n, 0) AS counted, COALESCE(k.n, 0) AS kept
     FROM (SELECT tenant, status, COUNT(*)::int AS n FROM instances GROUP BY tenant, status) r
     FULL JOIN (SELECT tenant, status, SUM(n)::int AS n FROM instance_counts GROUP BY tenant, status) k
       USING (tenant, status)
     ORDER BY tenant, status`,
  );
  expect(
    both.filter((r) => r.counted > 0),
    'the test made no instances',
  ).not.to.be.empty;
  expect(both).to.deep.equal(both.map((r) => ({ ...r, kept: r.counted })));
}

/**
 * instance_counts (InstanceCounts1764260000000): the list's Total-Count for filters of tenant and
 * status alone, kept by triggers on `instances` whatever writes the rows.
 */
describe('instance counts kept by the admin database (PostgreSQL)', function () {
  this.timeout(120_000);
  let stack: Stack;

  before(async () => {
    stack = await startStack();
  });
  after(async () => stack.stop());

  it('match the rows after creates, a rename, a delete and a failed create through the API and the worker', async () => {
    const a = await stack.createInstance('count_a');
    const b = await stack.createInstance('count_b');
    await expectCountsTrue(stack);

    const renamed = await stack.request('PUT', `/admin/instances/${a.id}`, {
      body: { instanceName: `Renamed ${stack.id}`, databaseName: stack.db('count_a2') },
    });
    expect(renamed.body.status).to.equal('PendingRename');
    await stack.waitForStatus(a.id, 'Created');
    const deleting = await stack.request('DELETE', `/admin/instances/${b.id}`);
    expect(deleting.body.status, JSON.stringify(deleting.body)).to.equal('PendingDelete');
    await stack.waitForStatus(b.id, 'Deleted');

    // An unmanaged database of the same name: the create fails rather than clobber it.
    const blocked = stack.db('count_blocked');
    await withServer((c) => c.query(`CREATE DATABASE ${c.escapeIdentifier(blocked)}`));
    try {
      const r = await stack.request('POST', '/admin/instances', {
        body: { instanceName: `Blocked ${stack.id}`, databaseName: blocked },
      });
      await stack.waitForStatus(r.body.id, 'CreateFailed');
    } finally {
      await withServer((c) => c.query(`DROP DATABASE ${c.escapeIdentifier(blocked)} WITH (FORCE)`));
    }
    const rows = await counted(stack);
    expect(rows.map((r) => r.status)).to.include.members(['Created', 'Deleted', 'CreateFailed']);
    await expectCountsTrue(stack);
  });

  it('match the rows after concurrent creates', async () => {
    const posted = await Promise.all(
      [1, 2, 3, 4, 5, 6].map((n) =>
        stack.request('POST', '/admin/instances', {
          body: { instanceName: `Concurrent ${stack.id} ${n}`, databaseName: stack.db(`count_c${n}`) },
        }),
      ),
    );
    for (const r of posted) expect(r.status, JSON.stringify(r.body)).to.equal(201);
    await expectCountsTrue(stack); // while they are PendingCreate or on their way
    for (const r of posted) await stack.waitForStatus(r.body.id, 'Created');
    await expectCountsTrue(stack);
  });

  it('follow changes made with SQL outside the service: a status, a tenant, an insert and a delete', async () => {
    const [row] = await stack.dataSource.query<{ id: string }[]>(
      `SELECT id FROM instances WHERE status = 'Created' ORDER BY created_at LIMIT 1`,
    );
    await stack.dataSource.query(`UPDATE instances SET status = 'DeleteFailed' WHERE id = $1`, [row!.id]);
    await expectCountsTrue(stack);
    // Several rows in one statement, some whose status does not change.
    await stack.dataSource.query(`UPDATE instances SET status = 'Created' WHERE status IN ('DeleteFailed', 'Created')`);
    await expectCountsTrue(stack);
    await stack.dataSource.query(`UPDATE instances SET tenant = 'moved' WHERE id = $1`, [row!.id]);
    expect((await counted(stack)).map((r) => r.tenant)).to.include('moved');
    await expectCountsTrue(stack);
    await stack.dataSource.query(
      `INSERT INTO instances (id, instance_name, instance_name_key, database_name, status, engine, created_by, created_at, updated_at, tenant, instance_type)
       SELECT gen_random_uuid(), 'Copied ' || id, 'copied ' || id, 'copied_' || replace(id::text, '-', ''), 'Released', engine, created_by, now(), now(), tenant, instance_type
       FROM instances WHERE status = 'Created'`,
    );
    await expectCountsTrue(stack);
    // Instance rows are never deleted by the service; an operator's DELETE still counts.
    await stack.dataSource.query(`DELETE FROM instances WHERE status = 'Released'`);
    expect((await counted(stack)).map((r) => r.status)).not.to.include('Released');
    await expectCountsTrue(stack);
  });

  it('answer the list’s Total-Count for tenant and status filters, and count the rows for any other filter', async () => {
    const all = await counted(stack);
    const of = (statuses: string[]) =>
      all.filter((r) => r.tenant === '' && statuses.includes(r.status)).reduce((sum, r) => sum + r.n, 0);
    const total = async (query: string) =>
      Number((await stack.request('GET', `/admin/instances?${query}`)).headers.get('total-count'));
    const live = of(['Created', 'CreateFailed']);
    expect(await total('')).to.equal(live);
    expect(await total('includeDeleted=true')).to.equal(of(['Created', 'CreateFailed', 'Deleted']));
    expect(await total('status=Deleted')).to.equal(of(['Deleted']));
    // Shown to come from the counts: a count made wrong on purpose is what the list says...
    await stack.dataSource.query(
      `INSERT INTO instance_counts (tenant, status, shard, n) VALUES ('', 'Created', 0, 1000)
       ON CONFLICT (tenant, status, shard) DO UPDATE SET n = instance_counts.n + 1000`,
    );
    try {
      expect(await total('')).to.equal(live + 1000);
      expect(await total('status=Created')).to.equal(of(['Created']) + 1000);
      // ...and not what a filter the counts do not know says.
      expect(await total('protected=false')).to.equal(live);
      expect(await total(`instanceName=${encodeURIComponent(stack.id)}`)).to.be.at.most(live);
    } finally {
      await stack.dataSource.query(
        `UPDATE instance_counts SET n = n - 1000 WHERE tenant = '' AND status = 'Created' AND shard = 0`,
      );
    }
    await expectCountsTrue(stack);
  });

  it('start, when the migration runs, from the rows already there', async () => {
    const migration = new InstanceCounts1764260000000();
    const runner = stack.dataSource.createQueryRunner();
    try {
      await runner.startTransaction();
      await migration.down(runner);
      await runner.commitTransaction();
      // Rows written while nothing counted them: the backfill must find them.
      await stack.dataSource.query(`UPDATE instances SET status = 'CreateFailed' WHERE status = 'Created'`);
      await stack.dataSource.query(
        `UPDATE instances SET tenant = 'before' WHERE id = (SELECT id FROM instances ORDER BY created_at DESC LIMIT 1)`,
      );
      await runner.startTransaction();
      await migration.up(runner);
      await runner.commitTransaction();
    } finally {
      if (runner.isTransactionActive) await runner.rollbackTransaction();
      await runner.release();
    }
    const rows = await counted(stack);
    expect(rows.map((r) => r.tenant)).to.include('before');
    await expectCountsTrue(stack);
    // And the triggers it made count what follows.
    await stack.dataSource.query(`UPDATE instances SET status = 'Created', tenant = '' WHERE status <> 'Created'`);
    await expectCountsTrue(stack);
  });
});
