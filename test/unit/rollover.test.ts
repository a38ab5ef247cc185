import { expect } from 'chai';
import { ContextMode } from '../../api/instances/context-mode';
import { DatabaseNamePolicy } from '../../api/instances/database-name-policy';
import {
  acceptRollover,
  assertWithinCap,
  planRollover,
  replaceYear,
  type RolloverRequest,
  successorBody,
} from '../../api/instances/rollover';
import { InstanceEntity } from '../../shared/database/entities';
import { ValidationError } from '../../shared/errors';
import { contextSetKey, type OdsInstanceContext } from '../../shared/instances/contexts';
import { instanceNameKey } from '../../shared/instances/instance-name';
import type { InstanceStatus } from '../../shared/instances/status';
import { parseTemplates } from '../../shared/templates';

const year = (value: string) => ({ contextKey: 'schoolYearFromRoute', contextValue: value });
const district = (value: string) => ({ contextKey: 'districtIdFromRoute', contextValue: value });

let n = 0;
function instance(
  instanceName: string,
  databaseName: string,
  contexts: OdsInstanceContext[],
  extra: Partial<InstanceEntity> & { status?: InstanceStatus } = {},
): InstanceEntity {
  n += 1;
  return Object.assign(new InstanceEntity(), {
    id: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
    instanceName,
    instanceNameKey: instanceNameKey(instanceName),
    databaseName,
    status: 'Created',
    contexts,
    contextSetKey: contextSetKey(contexts),
    instanceType: null,
    apiClientKeys: [],
    tenant: '',
    ...extra,
  });
}

const names = new DatabaseNamePolicy('postgres', {
  adminDatabaseUrl: 'postgres://localhost/odsim_admin',
  templates: parseTemplates(undefined, undefined, 'EdFi_Ods_Minimal_Template', []).templates,
  reservedNames: [],
});
const free = new ContextMode({ keys: [], databaseNamePattern: null });
const derived = new ContextMode({
  keys: ['districtIdFromRoute', 'schoolYearFromRoute'],
  databaseNamePattern: 'EdFi_Ods_{districtIdFromRoute}_{schoolYearFromRoute}',
});
const request: RolloverRequest = { fromSchoolYear: 2025, toSchoolYear: 2026, mode: 'template' };
const nothingClaimed = async () => new Set<string>();

describe('school-year rollover: the plan', () => {
  it('replaces only a standalone year, never part of a longer number', () => {
    expect(replaceYear('District 2025', 2025, 2026)).to.equal('District 2026');
    expect(replaceYear('EdFi_Ods_255901_2025', 2025, 2026)).to.equal('EdFi_Ods_255901_2026');
    expect(replaceYear('2025 Grand Bend 2025', 2025, 2026)).to.equal('2026 Grand Bend 2026');
    expect(replaceYear('District 120251', 2025, 2026)).to.equal(null);
    expect(replaceYear('District', 2025, 2026)).to.equal(null);
  });

  it('moves a span that ends in the year as a whole: 2024-2025 becomes 2025-2026', () => {
    expect(replaceYear('Grand Bend 2024-2025', 2025, 2026)).to.equal('Grand Bend 2025-2026');
    expect(replaceYear('EdFi_Ods_255901_2024_2025', 2025, 2026)).to.equal('EdFi_Ods_255901_2025_2026');
    expect(replaceYear('Grand Bend 2024\u20132025', 2025, 2026)).to.equal('Grand Bend 2025\u20132026');
    expect(replaceYear('Grand Bend 2024', 2025, 2026)).to.equal(null);
  });

  it('builds the successor: year replaced in the contexts and names (appended when absent), same type and client keys', () => {
    const source = instance('Grand Bend', 'EdFi_Ods_Grand_Bend', [district('255901'), year('2025')], {
      instanceType: 'Production',
      apiClientKeys: ['sis'],
    });
    expect(successorBody(source, request, false)).to.deep.equal({
      instanceName: 'Grand Bend 2026',
      databaseName: 'EdFi_Ods_Grand_Bend_2026',
      odsInstanceContexts: [district('255901'), year('2026')],
      instanceType: 'Production',
      apiClientKeys: ['sis'],
    });
  });

  it('leaves the database name to the pattern where the deployment derives names', () => {
    const source = instance('Grand Bend 2025', 'anything', [district('255901'), year('2025')]);
    expect(successorBody(source, request, true)).not.to.have.property('databaseName');
  });

  it('passes the source and disconnectSource for a copy, and the source’s template for a template create', () => {
    const source = Object.assign(instance('A 2025', 'a_2025', [year('2025')]), { template: 'minimal' });
    expect(successorBody(source, { ...request, mode: 'copy', disconnectSource: true }, false)).to.include({
      sourceInstanceId: source.id,
      disconnectSource: true,
    });
    expect(successorBody(source, request, false)).to.include({ template: 'minimal' });
    expect(successorBody(instance('B 2025', 'b_2025', [year('2025')]), request, false)).not.to.have.property(
      'template',
    );
  });

  it('derives successor database names by the configured pattern', async () => {
    const live = [instance('District 1 2025', 'whatever_name', [district('1'), year('2025')])];
    const plan = await planRollover(request, live, nothingClaimed, derived, names);
    expect(plan.creates.map((c) => c.databaseName)).to.deep.equal(['EdFi_Ods_1_2026']);
  });

  it('skips, with the reason, sources not Created, invalid successors, repeats within the plan and taken database names', async () => {
    const long = 'x'.repeat(97) + ' 2025';
    const live = [
      instance('Pending 2025', 'pending_2025', [district('1'), year('2025')], { status: 'CreateFailed' }),
      instance('A 2025', 'a_2025', [district('2'), year('2025')]),
      instance('A 2026', 'a_2025_b', [district('3'), year('2025')]),
      instance(long, 'long_2025', [district('4'), year('2025')]),
      instance('Taken db 2025', 'taken_2025', [district('5'), year('2025')]),
      instance('Other year 2024', 'other_2024', [district('6'), year('2024')]),
    ];
    const claimed = async (dbs: string[]) => new Set(dbs.filter((d) => d === 'taken_2026'));
    const plan = await planRollover(request, live, claimed, free, names);
    const outcome = plan.items.map((i) => [i.source.instanceName, i.action === 'skip' ? i.reason : 'create']);
    expect(outcome).to.deep.equal([
      ['Pending 2025', 'its status is CreateFailed; only Created instances roll over'],
      // A 2026 is itself a source (it has no 2025 in its name: its successor is "A 2026 2026").
      ['A 2025', `the successor's instanceName "A 2026" is taken by instance ${live[2]!.id}`],
      ['A 2026', 'create'],
      [long, 'the successor would be invalid: instanceName must be 1 to 100 characters'],
      ['Taken db 2025', `the successor's databaseName "taken_2026" is in use by another instance`],
    ]);
    expect(plan.creates.map((c) => c.instanceName)).to.deep.equal(['A 2026 2026']);
  });

  it('skips a source whose successor exists before anything else, so a rerun creates only what is missing', async () => {
    const live = [
      instance('B 2025', 'b_2025', [district('1'), year('2025')], { status: 'DeleteFailed' }),
      instance('Successor', 'b_next', [{ contextKey: 'SCHOOLYEARFROMROUTE', contextValue: '2026' }, district('1')]),
    ];
    const plan = await planRollover(request, live, nothingClaimed, free, names);
    expect(plan.items).to.have.length(1);
    expect(plan.items[0]).to.include({ action: 'skip' });
    expect((plan.items[0] as { reason: string }).reason).to.match(/^its successor exists: "Successor"/);
  });

  it('skips the later of two successors that would take the same database name', async () => {
    // x (no year: x_2026 appended) and x_2025 (year replaced: x_2026).
    const live = [
      instance('X one', 'x', [district('1'), year('2025')]),
      instance('X two 2025', 'X_2025', [district('2'), year('2025')]),
    ];
    const plan = await planRollover(request, live, nothingClaimed, free, names);
    expect(plan.items.map((i) => i.action)).to.deep.equal(['create', 'skip']);
    expect((plan.items[1] as { reason: string }).reason).to.equal(
      `the successor's databaseName repeats that of the successor of "X one"`,
    );
  });

  it('refuses instanceIds that are not sources of the year', async () => {
    const live = [instance('D 2025', 'd_2025', [year('2025')]), instance('D 2024', 'd_2024', [year('2024')])];
    const wrong = { ...request, instanceIds: [live[1]!.id] };
    try {
      await planRollover(wrong, live, nothingClaimed, free, names);
      expect.fail('expected a 400');
    } catch (err) {
      expect(err).to.be.instanceOf(ValidationError);
      expect((err as ValidationError).errors).to.have.property('instanceIds[0]');
    }
  });
});

describe('school-year rollover: the body', () => {
  const refused = (body: unknown) => {
    try {
      acceptRollover(body);
    } catch (err) {
      expect(err).to.be.instanceOf(ValidationError);
      return Object.keys((err as ValidationError).errors);
    }
    return expect.fail(`accepted ${JSON.stringify(body)}`);
  };

  it('takes two different years from 2000 to 2099, mode template by default', () => {
    expect(acceptRollover({ fromSchoolYear: 2025, toSchoolYear: 2026 })).to.deep.equal({
      fromSchoolYear: 2025,
      toSchoolYear: 2026,
      mode: 'template',
    });
    expect(refused({ fromSchoolYear: 2025, toSchoolYear: 2025 })).to.deep.equal(['toSchoolYear']);
    expect(refused({ fromSchoolYear: 1999, toSchoolYear: 2026.5 })).to.have.members(['fromSchoolYear', 'toSchoolYear']);
    expect(refused({ fromSchoolYear: 2025 })).to.deep.equal(['toSchoolYear']);
  });

  it('takes disconnectSource only with mode copy, and instanceIds only as distinct UUIDs', () => {
    const ok = { fromSchoolYear: 2025, toSchoolYear: 2026 };
    expect(acceptRollover({ ...ok, mode: 'copy', disconnectSource: true })).to.include({
      mode: 'copy',
      disconnectSource: true,
    });
    expect(refused({ ...ok, disconnectSource: false })).to.deep.equal(['disconnectSource']);
    const id = '00000000-0000-4000-8000-000000000001';
    expect(refused({ ...ok, instanceIds: [id, id.toUpperCase()] })).to.deep.equal(['instanceIds']);
    expect(refused({ ...ok, instanceIds: [] })).to.deep.equal(['instanceIds']);
  });

  it('refuses more creates than BULK_CREATE_MAX, pointing to instanceIds', () => {
    expect(() => assertWithinCap(3, 3)).not.to.throw();
    expect(() => assertWithinCap(4, 3)).to.throw(ValidationError, /more than BULK_CREATE_MAX \(3\).*instanceIds/);
  });
});
