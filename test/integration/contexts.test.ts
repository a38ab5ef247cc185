import { expect } from 'chai';
import { InstanceEntity, JobEntity } from '../../shared/database/entities';
import { type HttpResult, type Stack, startStack } from '../support/stack';

const year = (value: string) => ({ contextKey: 'schoolYearFromRoute', contextValue: value });
const district = (value: string) => ({ contextKey: 'districtIdFromRoute', contextValue: value });

function expect400(r: HttpResult, field: string, pattern?: RegExp): void {
  expect(r.status, JSON.stringify(r.body)).to.equal(400);
  expect(r.headers.get('content-type')).to.match(/^application\/problem\+json/);
  expect(r.body.errors, JSON.stringify(r.body)).to.have.property(field);
  if (pattern) expect(r.body.errors[field].join(' ')).to.match(pattern);
}

async function rowCounts(stack: Stack): Promise<{ instances: number; jobs: number }> {
  return {
    instances: await stack.dataSource.getRepository(InstanceEntity).count(),
    jobs: await stack.dataSource.getRepository(JobEntity).count(),
  };
}

describe('ODS/API contexts on create', () => {
  describe('without a mode (contexts optional, databaseName required)', () => {
    let stack: Stack;
    let n = 0;
    before(async () => {
      stack = await startStack({ worker: false });
    });
    after(async () => stack.stop());

    const body = (extra: Record<string, unknown>) => {
      n += 1;
      return { instanceName: `Ctx ${stack.id} ${n}`, databaseName: stack.db(`ctx_${n}`), ...extra };
    };
    const post = (extra: Record<string, unknown>) => stack.request('POST', '/admin/instances', { body: body(extra) });

    it('keeps contexts, instanceType and apiClientKeys and shows them, with an empty registration', async () => {
      const r = await post({
        odsInstanceContexts: [year('2025')],
        instanceType: 'Enterprise',
        apiClientKeys: ['vendorKey_1', 'another-key'],
      });
      expect(r.status, JSON.stringify(r.body)).to.equal(201);
      expect(r.body).to.deep.include({
        tenant: null,
        instanceType: 'Enterprise',
        odsInstanceContexts: [year('2025')],
        odsInstanceId: null,
        apiClientKeys: ['vendorKey_1', 'another-key'],
      });
      const row = await stack.dataSource.getRepository(InstanceEntity).findOneByOrFail({ id: r.body.id });
      expect(row).to.deep.include({
        tenant: '',
        contextSetKey: 'schoolyearfromroute=2025',
        instanceType: 'Enterprise',
      });
      expect((await stack.request('GET', `/admin/instances/${r.body.id}`)).body.odsInstanceContexts).to.deep.equal([
        year('2025'),
      ]);
    });

    it('shows an instance created without them with [] and nulls, as before', async () => {
      const r = await post({});
      expect(r.status).to.equal(201);
      expect(r.body).to.deep.include({
        tenant: null,
        instanceType: null,
        odsInstanceContexts: [],
        odsInstanceId: null,
        apiClientKeys: [],
      });
      const row = await stack.dataSource.getRepository(InstanceEntity).findOneByOrFail({ id: r.body.id });
      expect(row.contextSetKey).to.equal(null);
    });

    it('accepts each kind of context value at its limits', async () => {
      for (const contexts of [
        [year('2000')],
        [year('2099'), district('9999999999')],
        [{ contextKey: 'educationOrganizationIdFromRoute', contextValue: '1' }],
        [{ contextKey: 'campusFromRoute', contextValue: `${'x'.repeat(48)}-_` }],
        [1, 2, 3, 4, 5].map((i) => ({ contextKey: `k${i}`, contextValue: `v${i}` })),
      ]) {
        const r = await post({ odsInstanceContexts: contexts });
        expect(r.status, JSON.stringify([contexts, r.body])).to.equal(201);
      }
    });

    for (const [label, contexts, pattern] of [
      ['a school year before 2000', [year('1999')], /odsInstanceContexts\[0\]\.contextValue .*school year/],
      ['a school year after 2099', [year('2100')], /2000 to 2099/],
      ['a two-digit school year', [year('25')], /school year/],
      ['a district id with a leading zero', [year('2025'), district('0255901')], /odsInstanceContexts\[1\].*id/],
      ['a district id of 11 digits', [district('12345678901')], /1 to 10 digits/],
      ['a value of 51 characters', [{ contextKey: 'campusFromRoute', contextValue: 'x'.repeat(51) }], /1 to 50/],
      ['an empty value', [{ contextKey: 'campusFromRoute', contextValue: '' }], /1 to 50/],
      ['a key with a space', [{ contextKey: 'school year', contextValue: '2025' }], /contextKey must be a letter/],
      ['a key starting with a digit', [{ contextKey: '1year', contextValue: '2025' }], /contextKey/],
      ['a key of 51 characters', [{ contextKey: `k${'x'.repeat(50)}`, contextValue: '1' }], /at most 50/],
      [
        'the same key twice, in another case',
        [year('2025'), { contextKey: 'SchoolYearFromRoute', contextValue: '2026' }],
        /odsInstanceContexts\[1\]\.contextKey repeats odsInstanceContexts\[0\]/,
      ],
      ['six contexts', [1, 2, 3, 4, 5, 6].map((i) => ({ contextKey: `k${i}`, contextValue: 'v' })), /at most 5/],
      ['an extra member', [{ ...year('2025'), note: 'x' }], /exactly contextKey and contextValue/],
      ['a number as value', [{ contextKey: 'schoolYearFromRoute', contextValue: 2025 }], /both strings/],
      ['a string instead of an object', ['schoolYearFromRoute=2025'], /odsInstanceContexts\[0\] must be an object/],
      ['an object instead of an array', { schoolYearFromRoute: '2025' }, /array/],
      [
        'SQL in a value',
        [{ contextKey: 'campusFromRoute', contextValue: "x'); DROP TABLE instances;--" }],
        /1 to 50 characters/,
      ],
      ['SQL in a key', [{ contextKey: "k' OR '1'='1", contextValue: 'x' }], /contextKey/],
    ] as const) {
      it(`refuses ${label} (400 naming the entry, nothing written)`, async () => {
        const before = await rowCounts(stack);
        expect400(await post({ odsInstanceContexts: contexts }), 'odsInstanceContexts', pattern);
        expect(await rowCounts(stack)).to.deep.equal(before);
      });
    }

    for (const [label, value, pattern] of [
      ['blank', '   ', /printable/],
      ['101 characters', 'x'.repeat(101), /1 to 100/],
      ['a control character', 'Enterprise\u0000', /printable/],
      ['a number', 7, /string/],
    ] as const) {
      it(`refuses an instanceType that is ${label}`, async () => {
        expect400(await post({ instanceType: value }), 'instanceType', pattern);
      });
    }

    for (const [label, value, pattern] of [
      ['a duplicate key', ['a', 'b', 'a'], /apiClientKeys\[2\] repeats apiClientKeys\[0\]/],
      ['21 keys', Array.from({ length: 21 }, (_, i) => `k${i}`), /at most 20/],
      ['an empty key', [''], /apiClientKeys\[0\] must be 1 to 50/],
      ['a key of 51 characters', ['k'.repeat(51)], /1 to 50/],
      ['SQL in a key', ["k'; DELETE FROM instances;--"], /apiClientKeys\[0\]/],
      ['a number', [42], /apiClientKeys\[0\]/],
      ['a string instead of an array', 'key', /array/],
    ] as const) {
      it(`refuses apiClientKeys with ${label}`, async () => {
        expect400(await post({ apiClientKeys: value }), 'apiClientKeys', pattern);
      });
    }

    it('still requires databaseName where no pattern is configured', async () => {
      const r = await stack.request('POST', '/admin/instances', {
        body: { instanceName: `No db ${stack.id}`, odsInstanceContexts: [year('2030')] },
      });
      expect400(r, 'databaseName');
    });

    it('refuses a second live instance with the same contexts, compared case-insensitively (409)', async () => {
      const first = await post({ odsInstanceContexts: [year('2031'), district('255901')] });
      expect(first.status).to.equal(201);
      const before = await rowCounts(stack);
      const second = await post({
        odsInstanceContexts: [
          { contextKey: 'DistrictIdFromRoute', contextValue: '255901' },
          { contextKey: 'SCHOOLYEARFROMROUTE', contextValue: '2031' },
        ],
      });
      expect(second.status, JSON.stringify(second.body)).to.equal(409);
      expect(second.body.detail).to.match(/DistrictIdFromRoute=255901, SCHOOLYEARFROMROUTE=2031/);
      expect(second.body.detail).to.match(/the ODS\/API could not tell them apart/);
      expect(await rowCounts(stack)).to.deep.equal(before);
      // A subset or another value is another set.
      expect((await post({ odsInstanceContexts: [year('2031')] })).status).to.equal(201);
      expect((await post({ odsInstanceContexts: [year('2031'), district('255902')] })).status).to.equal(201);
    });

    it('folds the case of values too: campusFromRoute=North and campusfromroute=north are one set', async () => {
      expect(
        (await post({ odsInstanceContexts: [{ contextKey: 'campusFromRoute', contextValue: 'North' }] })).status,
      ).to.equal(201);
      const again = await post({ odsInstanceContexts: [{ contextKey: 'campusfromroute', contextValue: 'north' }] });
      expect(again.status).to.equal(409);
    });

    it('lets exactly one of two concurrent creates with the same contexts through (the unique index decides)', async () => {
      for (let round = 0; round < 3; round++) {
        const contexts = [year(String(2040 + round))];
        const results = await Promise.all([
          post({ odsInstanceContexts: contexts }),
          post({ odsInstanceContexts: contexts }),
        ]);
        expect(results.map((r) => r.status).sort(), JSON.stringify(results.map((r) => r.body))).to.deep.equal([
          201, 409,
        ]);
        const rows = await stack.dataSource
          .getRepository(InstanceEntity)
          .countBy({ contextSetKey: `schoolyearfromroute=${2040 + round}` });
        expect(rows).to.equal(1);
      }
    });

    it('sends no tenant header back as tenant: a deployment without tenants refuses one (400)', async () => {
      const r = await stack.request('GET', '/admin/instances', { headers: { tenant: 'district-a' } });
      expect400(r, 'tenant', /no tenants/);
      expect((await stack.request('GET', '/admin/instances', { headers: { tenant: '' } })).status).to.equal(200);
    });

    it('shows its settings: no context keys, no pattern, no tenants', async () => {
      const r = await stack.request('GET', '/admin/settings', { token: stack.tokens.read });
      expect(r.status).to.equal(200);
      expect(r.body).to.deep.equal({
        contextKeys: [],
        databaseNamePattern: null,
        tenants: [],
        instanceDeletesEnabled: true,
        engine: 'postgres',
      });
    });
  });

  describe('year-specific mode (ODS_CONTEXT_KEYS=schoolYearFromRoute)', () => {
    let stack: Stack;
    before(async () => {
      stack = await startStack({
        worker: false,
        env: {
          ODS_CONTEXT_KEYS: 'schoolYearFromRoute',
          RESERVED_DATABASE_NAMES: 'EdFi_Admin,EdFi_Security,EdFi_Ods_2024',
        },
      });
    });
    after(async () => stack.stop());
    let n = 0;
    const create = (body: Record<string, unknown>) =>
      stack.request('POST', '/admin/instances', { body: { instanceName: `Year ${stack.id} ${(n += 1)}`, ...body } });

    it('derives EdFi_Ods_{year} when databaseName is left out', async () => {
      const r = await create({ odsInstanceContexts: [year('2025')] });
      expect(r.status, JSON.stringify(r.body)).to.equal(201);
      expect(r.body.databaseName).to.equal('EdFi_Ods_2025');
      const job = await stack.dataSource.getRepository(JobEntity).findOneByOrFail({ id: r.body.job.id });
      expect(job.targetDatabaseName).to.equal('EdFi_Ods_2025');
    });

    it('takes a databaseName that is given', async () => {
      const r = await create({ odsInstanceContexts: [year('2026')], databaseName: stack.db('given') });
      expect(r.status).to.equal(201);
      expect(r.body.databaseName).to.equal(stack.db('given'));
    });

    it('puts a derived name through the same policy as a given one', async () => {
      const r = await create({ odsInstanceContexts: [year('2024')] });
      expect400(r, 'databaseName', /derived from the contexts: "EdFi_Ods_2024".*reserved/);
    });

    it('refuses a derived name another instance holds (409), as a given one', async () => {
      const r = await create({
        odsInstanceContexts: [{ contextKey: 'SchoolYearFromRoute', contextValue: '2027' }],
        databaseName: 'EdFi_Ods_2028',
      });
      expect(r.status).to.equal(201);
      const clash = await create({ odsInstanceContexts: [year('2028')] });
      expect(clash.status).to.equal(409);
      expect(clash.body.detail).to.match(/databaseName is already in use/);
    });

    it('requires exactly the configured keys (400 naming what is missing or extra)', async () => {
      expect400(await create({}), 'odsInstanceContexts', /missing: schoolYearFromRoute/);
      expect400(
        await create({ odsInstanceContexts: [year('2029'), district('255901')] }),
        'odsInstanceContexts',
        /not expected: districtIdFromRoute/,
      );
      expect400(
        await create({ odsInstanceContexts: [district('255901')] }),
        'odsInstanceContexts',
        /missing: schoolYearFromRoute; not expected: districtIdFromRoute/,
      );
    });

    it('shows the mode in GET /admin/settings', async () => {
      const r = await stack.request('GET', '/admin/settings');
      expect(r.body).to.deep.equal({
        contextKeys: ['schoolYearFromRoute'],
        databaseNamePattern: 'EdFi_Ods_{schoolYearFromRoute}',
        tenants: [],
        instanceDeletesEnabled: true,
        engine: 'postgres',
      });
    });
  });

  describe('district-and-year mode (ODS_CONTEXT_KEYS=districtIdFromRoute,schoolYearFromRoute)', () => {
    let stack: Stack;
    before(async () => {
      stack = await startStack({ worker: false, env: { ODS_CONTEXT_KEYS: 'districtIdFromRoute,schoolYearFromRoute' } });
    });
    after(async () => stack.stop());

    it('derives EdFi_Ods_{district}_{year}, whatever the order of the contexts', async () => {
      const r = await stack.request('POST', '/admin/instances', {
        body: { instanceName: `DY ${stack.id}`, odsInstanceContexts: [year('2025'), district('255901')] },
      });
      expect(r.status, JSON.stringify(r.body)).to.equal(201);
      expect(r.body.databaseName).to.equal('EdFi_Ods_255901_2025');
    });

    it('keeps the same year in another district apart', async () => {
      const r = await stack.request('POST', '/admin/instances', {
        body: { instanceName: `DY2 ${stack.id}`, odsInstanceContexts: [district('255902'), year('2025')] },
      });
      expect(r.status).to.equal(201);
      expect(r.body.databaseName).to.equal('EdFi_Ods_255902_2025');
    });

    it('refuses a create without the district', async () => {
      const r = await stack.request('POST', '/admin/instances', {
        body: { instanceName: `DY3 ${stack.id}`, odsInstanceContexts: [year('2025')] },
      });
      expect400(r, 'odsInstanceContexts', /missing: districtIdFromRoute/);
    });
  });

  describe('with a worker', () => {
    let stack: Stack;
    before(async () => {
      stack = await startStack();
    });
    after(async () => stack.stop());

    it("frees a Deleted instance's contexts for a new instance", async () => {
      const contexts = [year('2025')];
      const first = await stack.request('POST', '/admin/instances', {
        body: { instanceName: `Reuse ${stack.id} 1`, databaseName: stack.db('reuse_1'), odsInstanceContexts: contexts },
      });
      await stack.waitForStatus(first.body.id, 'Created');
      const blocked = await stack.request('POST', '/admin/instances', {
        body: { instanceName: `Reuse ${stack.id} 2`, databaseName: stack.db('reuse_2'), odsInstanceContexts: contexts },
      });
      expect(blocked.status).to.equal(409);
      expect((await stack.request('DELETE', `/admin/instances/${first.body.id}`)).status).to.equal(200);
      await stack.waitForStatus(first.body.id, 'Deleted');
      const again = await stack.request('POST', '/admin/instances', {
        body: { instanceName: `Reuse ${stack.id} 2`, databaseName: stack.db('reuse_2'), odsInstanceContexts: contexts },
      });
      expect(again.status, JSON.stringify(again.body)).to.equal(201);
      await stack.waitForStatus(again.body.id, 'Created');
    });

    it('marks a delete forced only with ?force=true, and refuses any other value', async () => {
      const a = await stack.createInstance('force_a');
      const b = await stack.createInstance('force_b');
      for (const bad of ['yes', '1', 'TRUE', "true' OR '1'='1", '']) {
        const r = await stack.request('DELETE', `/admin/instances/${a.id}?force=${encodeURIComponent(bad)}`);
        expect400(r, 'force', /true or false/);
      }
      expect((await stack.request('GET', `/admin/instances/${a.id}`)).body.status).to.equal('Created');

      const forced = await stack.request('DELETE', `/admin/instances/${a.id}?force=true`);
      expect(forced.status).to.equal(200);
      const forcedJob = await stack.request('GET', `/admin/jobs/${forced.body.job.id}`);
      expect(forcedJob.body).to.include({ type: 'delete', force: true });
      expect(
        (await stack.dataSource.getRepository(JobEntity).findOneByOrFail({ id: forced.body.job.id })).force,
      ).to.equal(true);

      const plain = await stack.request('DELETE', `/admin/instances/${b.id}?force=false`);
      expect(plain.status).to.equal(200);
      expect((await stack.request('GET', `/admin/jobs/${plain.body.job.id}`)).body.force).to.equal(false);
      await stack.waitForStatus(a.id, 'Deleted');
      await stack.waitForStatus(b.id, 'Deleted');
      // The create jobs were never forced.
      const creates = await stack.dataSource.getRepository(JobEntity).findBy({ type: 'create' });
      expect(creates.every((j) => j.force === false)).to.equal(true);
    });
  });
});
