import { expect } from 'chai';
import type { Queue } from 'bullmq';
import type { RedisClient } from '../../shared/redis';
import { AuditEventEntity, DatabaseNameClaimEntity, InstanceEntity, JobEntity } from '../../shared/database/entities';
import { createQueue, type JobPayload, redisConnection } from '../../shared/jobs/queue';
import { databaseExists, databasesLike, withServer } from '../support/ods-server';
import { urlFor } from '../support/settings';
import { type HttpResult, type RequestOptions, type Stack, startStack } from '../support/stack';

const ROLLOVER = '/admin/instances/rollover';
const A = 'district-a';
const B = 'district-b';
const year = (value: string) => ({ contextKey: 'schoolYearFromRoute', contextValue: value });
const district = (value: string) => ({ contextKey: 'districtIdFromRoute', contextValue: value });

describe('school-year rollover (POST /admin/instances/rollover)', function () {
  this.timeout(120_000);
  let stack: Stack;
  let queue: Queue<JobPayload>;
  let redis: RedisClient;
  /** The sources of tenant A, by their short name. */
  const ids: Record<string, string> = {};

  const inTenant = (tenant: string, extra: RequestOptions = {}): RequestOptions => ({
    ...extra,
    headers: { tenant, ...extra.headers },
  });
  const rollover = (body: unknown, query = '', tenant = A) =>
    stack.request('POST', `${ROLLOVER}${query}`, inTenant(tenant, { body }));

  /** Everything a rollover could leave behind: rows, queued jobs and the server's databases. */
  async function snapshot() {
    const counts = await queue.getJobCounts();
    return {
      instances: await stack.dataSource.getRepository(InstanceEntity).count(),
      jobs: await stack.dataSource.getRepository(JobEntity).count(),
      claims: await stack.dataSource.getRepository(DatabaseNameClaimEntity).count(),
      audit: await stack.dataSource.getRepository(AuditEventEntity).count(),
      queued: Object.values(counts).reduce((a, b) => a + b, 0),
      databases: await databasesLike(stack.db('')),
    };
  }

  before(async () => {
    stack = await startStack({ env: { BULK_CREATE_MAX: '2', TENANTS: `${A},${B}` } });
    redis = redisConnection(stack.apiConfig.redis.url);
    redis.on('error', () => undefined);
    queue = createQueue(redis, stack.apiConfig.redis.prefix, stack.deploymentId);
    const create = async (tenant: string, body: Record<string, unknown>) => {
      const r = await stack.request('POST', '/admin/instances', inTenant(tenant, { body }));
      expect(r.status, JSON.stringify(r.body)).to.equal(201);
      return r.body.id as string;
    };
    const sources: [string, string, Record<string, unknown>][] = [
      [
        A,
        'a1',
        {
          instanceName: 'District 1 2025',
          databaseName: stack.db('ro_1_2025'),
          odsInstanceContexts: [year('2025'), district('1')],
        },
      ],
      [
        A,
        'a2',
        {
          instanceName: 'District 2 2025',
          databaseName: stack.db('ro_2_2025'),
          odsInstanceContexts: [district('2'), year('2025')],
          instanceType: 'Production',
          apiClientKeys: ['district-2-sis', 'district-2-lms'],
        },
      ],
      // No year in its names: the successor's get it appended.
      [
        A,
        'a3',
        {
          instanceName: 'District 3',
          databaseName: stack.db('ro_3'),
          odsInstanceContexts: [year('2025'), district('3')],
        },
      ],
      [
        A,
        'a5',
        {
          instanceName: 'District 5 2025',
          databaseName: stack.db('ro_5_2025'),
          odsInstanceContexts: [year('2025'), district('5')],
        },
      ],
      // Another year: not a source.
      [
        A,
        'a4',
        {
          instanceName: 'District 1 2024',
          databaseName: stack.db('ro_1_2024'),
          odsInstanceContexts: [year('2024'), district('1')],
        },
      ],
      // Holds the name District 5's successor would take (with other contexts): a clash.
      [
        A,
        'clash',
        {
          instanceName: 'District 5 2026',
          databaseName: stack.db('ro_clash'),
          odsInstanceContexts: [year('2030'), district('5')],
        },
      ],
      // Another tenant's instance of the same year: never seen by tenant A's rollover.
      [
        B,
        'b1',
        {
          instanceName: 'District 1 2025',
          databaseName: stack.db('ro_b1_2025'),
          odsInstanceContexts: [year('2025'), district('1')],
        },
      ],
    ];
    for (const [tenant, key, body] of sources) ids[key] = await create(tenant, body);
    for (const [tenant, key] of sources) await stack.waitForStatus(ids[key]!, 'Created', 60_000, tenant);
  });
  after(async () => {
    await queue?.close();
    redis?.disconnect();
    await stack?.stop();
  });

  const successorOf = (name: string, db: string, contexts: unknown[], extra: Record<string, unknown> = {}) => ({
    instanceName: name,
    databaseName: stack.db(db),
    odsInstanceContexts: contexts,
    instanceType: null,
    apiClientKeys: [],
    mode: 'template',
    ...extra,
  });

  it('refuses an invalid body with 400, changing nothing', async () => {
    const before = await snapshot();
    const bodies: [unknown, string][] = [
      [{ fromSchoolYear: 2025, toSchoolYear: 2025 }, 'toSchoolYear'],
      [{ fromSchoolYear: 1999, toSchoolYear: 2026 }, 'fromSchoolYear'],
      [{ fromSchoolYear: '2025', toSchoolYear: 2026 }, 'fromSchoolYear'],
      [{ fromSchoolYear: 2025, toSchoolYear: 2100 }, 'toSchoolYear'],
      [{ fromSchoolYear: 2025, toSchoolYear: 2026, mode: 'clone' }, 'mode'],
      [{ fromSchoolYear: 2025, toSchoolYear: 2026, disconnectSource: true }, 'disconnectSource'],
      [{ fromSchoolYear: 2025, toSchoolYear: 2026, instanceIds: ['not-a-uuid'] }, 'instanceIds'],
      [{ fromSchoolYear: 2025, toSchoolYear: 2026, extra: 1 }, 'extra'],
      // An instance that is not a source: of another year, and of another tenant.
      [{ fromSchoolYear: 2025, toSchoolYear: 2026, instanceIds: [ids.a1, ids.a4] }, 'instanceIds[1]'],
      [{ fromSchoolYear: 2025, toSchoolYear: 2026, instanceIds: [ids.b1] }, 'instanceIds[0]'],
    ];
    for (const [body, field] of bodies) {
      for (const query of ['', '?dryRun=true']) {
        const r = await rollover(body, query);
        expect(r.status, `${JSON.stringify(body)}: ${JSON.stringify(r.body)}`).to.equal(400);
        expect(r.headers.get('content-type')).to.match(/^application\/problem\+json/);
        expect(r.body.errors, JSON.stringify(r.body)).to.have.property(field);
      }
    }
    expect((await rollover({ fromSchoolYear: 2025, toSchoolYear: 2026 }, '?dryRun=maybe')).status).to.equal(400);
    expect(await snapshot()).to.deep.equal(before);
  });

  it('refuses more successors than BULK_CREATE_MAX, telling the caller to send instanceIds subsets', async () => {
    const before = await snapshot();
    for (const query of ['', '?dryRun=true']) {
      const r = await rollover({ fromSchoolYear: 2025, toSchoolYear: 2026 }, query);
      expect(r.status, JSON.stringify(r.body)).to.equal(400);
      expect(r.body.detail).to.match(/would create 3 instances, more than BULK_CREATE_MAX \(2\).*instanceIds/);
    }
    expect(await snapshot()).to.deep.equal(before);
  });

  let planned: HttpResult;
  it('with dryRun=true answers the successors and the skipped sources with their reasons, recording nothing', async () => {
    const before = await snapshot();
    planned = await rollover(
      { fromSchoolYear: 2025, toSchoolYear: 2026, instanceIds: [ids.a5, ids.a2, ids.a1] },
      '?dryRun=true',
    );
    expect(planned.status, JSON.stringify(planned.body)).to.equal(200);
    expect(planned.body).to.include({
      dryRun: true,
      fromSchoolYear: 2025,
      toSchoolYear: 2026,
      mode: 'template',
      creates: 2,
      skips: 1,
    });
    // Oldest source first, whatever the order of instanceIds.
    expect(planned.body.items.map((i: any) => [i.source.id, i.action])).to.deep.equal([
      [ids.a1, 'create'],
      [ids.a2, 'create'],
      [ids.a5, 'skip'],
    ]);
    expect(planned.body.items[0].successor).to.deep.equal(
      successorOf('District 1 2026', 'ro_1_2026', [year('2026'), district('1')]),
    );
    expect(planned.body.items[1].successor).to.deep.equal(
      successorOf('District 2 2026', 'ro_2_2026', [district('2'), year('2026')], {
        instanceType: 'Production',
        apiClientKeys: ['district-2-sis', 'district-2-lms'],
      }),
    );
    expect(planned.body.items[2].reason).to.equal(
      `the successor's instanceName "District 5 2026" is taken by instance ${ids.clash}`,
    );
    expect(await snapshot()).to.deep.equal(before);
  });

  it('creates exactly what the dry run planned; the successors reach Created with their databases', async () => {
    const r = await rollover({ fromSchoolYear: 2025, toSchoolYear: 2026, instanceIds: [ids.a5, ids.a2, ids.a1] });
    expect(r.status, JSON.stringify(r.body)).to.equal(201);
    const withoutInstances = r.body.items.map(({ instance: _instance, ...item }: any) => item);
    expect({ ...r.body, items: withoutInstances }).to.deep.equal({ ...planned.body, dryRun: false });
    for (const item of r.body.items.filter((i: any) => i.action === 'create')) {
      const { instance, successor } = item;
      expect(instance).to.include({
        status: 'PendingCreate',
        tenant: A,
        instanceName: successor.instanceName,
        databaseName: successor.databaseName,
        instanceType: successor.instanceType,
      });
      expect(instance.odsInstanceContexts).to.deep.equal(successor.odsInstanceContexts);
      expect(instance.apiClientKeys).to.deep.equal(successor.apiClientKeys);
      expect(instance.job).to.include({ type: 'create', status: 'queued' });
      await stack.waitForStatus(instance.id, 'Created', 60_000, A);
      expect(await databaseExists(successor.databaseName)).to.equal(true);
    }
    const audit = await stack.dataSource.getRepository(AuditEventEntity).findBy({ action: 'instance.rollover' });
    expect(audit).to.have.length(1);
    expect(JSON.parse(audit[0]!.details!)).to.include({
      fromSchoolYear: 2025,
      toSchoolYear: 2026,
      mode: 'template',
      created: 2,
      skipped: 1,
      tenant: A,
    });
    const creates = await stack.dataSource
      .getRepository(AuditEventEntity)
      .findBy({ action: 'instance.create', outcome: 'accepted', requestId: audit[0]!.requestId! });
    expect(creates.map((c) => c.instanceId).sort()).to.deep.equal(
      r.body.items.flatMap((i: any) => (i.instance ? [i.instance.id] : [])).sort(),
    );
  });

  it('rolls over the rest (a name without the year gets it appended), then a rerun skips every source and creates nothing', async () => {
    const rest = await rollover({ fromSchoolYear: 2025, toSchoolYear: 2026 });
    expect(rest.status, JSON.stringify(rest.body)).to.equal(201);
    expect(rest.body).to.include({ creates: 1, skips: 3 });
    const created = rest.body.items.find((i: any) => i.action === 'create');
    expect(created.source.id).to.equal(ids.a3);
    expect(created.successor).to.deep.equal(successorOf('District 3 2026', 'ro_3_2026', [year('2026'), district('3')]));
    await stack.waitForStatus(created.instance.id, 'Created', 60_000, A);

    const before = await snapshot();
    for (const query of ['?dryRun=true', '']) {
      const again = await rollover({ fromSchoolYear: 2025, toSchoolYear: 2026 }, query);
      expect(again.status, JSON.stringify(again.body)).to.equal(200);
      expect(again.body).to.include({ creates: 0, skips: 4 });
      const reasons = Object.fromEntries(again.body.items.map((i: any) => [i.source.id, i.reason]));
      expect(Object.keys(reasons)).to.have.members([ids.a1, ids.a2, ids.a3, ids.a5]);
      for (const key of ['a1', 'a2', 'a3'])
        expect(reasons[ids[key]!]).to.match(/^its successor exists: "District \d 2026"/);
      expect(reasons[ids.a5!]).to.match(/instanceName "District 5 2026" is taken/);
    }
    expect(await snapshot()).to.deep.equal(before);
  });

  it('acts in the caller’s tenant only: tenant B’s rollover sees its own instance', async () => {
    const r = await rollover({ fromSchoolYear: 2025, toSchoolYear: 2026 }, '?dryRun=true', B);
    expect(r.status, JSON.stringify(r.body)).to.equal(200);
    expect(r.body.items.map((i: any) => [i.source.id, i.action])).to.deep.equal([[ids.b1, 'create']]);
    expect(r.body.items[0].successor.databaseName).to.equal(stack.db('ro_b1_2026'));
  });

  it('answers 405 to other methods, and a read-only client gets 403', async () => {
    const get = await stack.request('GET', ROLLOVER, inTenant(A));
    expect(get.status).to.equal(405);
    expect(get.headers.get('allow')).to.equal('POST');
    const readOnly = await stack.request(
      'POST',
      ROLLOVER,
      inTenant(A, { token: stack.tokens.read, body: { fromSchoolYear: 2025, toSchoolYear: 2026 } }),
    );
    expect(readOnly.status).to.equal(403);
  });

  it('in copy mode copies each source’s database, its data included, and reopens the source', async () => {
    await withServer(
      async (c) => {
        await c.query('CREATE TABLE carried_over (student int)');
        await c.query('INSERT INTO carried_over SELECT generate_series(1, 25)');
      },
      urlFor(stack.db('ro_b1_2025')),
    );
    const before = await snapshot();
    // PostgreSQL copies only a database nobody is connected to: the caller must agree to end its sessions.
    const refused = await rollover({ fromSchoolYear: 2025, toSchoolYear: 2026, mode: 'copy' }, '', B);
    expect(refused.status, JSON.stringify(refused.body)).to.equal(400);
    expect(JSON.stringify(refused.body)).to.include('disconnectSource');
    expect(await snapshot()).to.deep.equal(before);

    const r = await rollover({ fromSchoolYear: 2025, toSchoolYear: 2026, mode: 'copy', disconnectSource: true }, '', B);
    expect(r.status, JSON.stringify(r.body)).to.equal(201);
    const created = r.body.items[0].instance;
    expect(created).to.deep.include({ sourceInstanceId: ids.b1, template: null, databaseName: stack.db('ro_b1_2026') });
    await stack.waitForStatus(created.id, 'Created', 60_000, B);
    const rows = await withServer(
      async (c) => Number((await c.query('SELECT count(*) AS n FROM carried_over')).rows[0].n),
      urlFor(stack.db('ro_b1_2026')),
    );
    expect(rows).to.equal(25);
    const source = await stack.dataSource.getRepository(InstanceEntity).findOneByOrFail({ id: ids.b1 });
    expect(source.status).to.equal('Created');
    const open = await withServer(
      async (c) =>
        (await c.query('SELECT datallowconn FROM pg_database WHERE datname = $1', [stack.db('ro_b1_2025')])).rows[0],
    );
    expect(open.datallowconn, 'the source takes connections again').to.equal(true);
  });
});
