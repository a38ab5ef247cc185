import { expect } from 'chai';
import type { InstanceEntity, JobEntity } from '../../shared/database/entities';
import { PermanentJobError } from '../../shared/errors';
import type { CreateRequest, EngineDriver } from '../../worker/engines/engine';
import { Registrations } from '../../worker/edfi-admin/registry';
import { createHandlers } from '../../worker/jobs/handlers';

/** Records the order in which the driver and the registry are called. */
function fakes(
  options: { preflightFails?: boolean; registerFails?: boolean; unregisterFails?: boolean; protected?: boolean } = {},
) {
  const calls: string[] = [];
  const creates: CreateRequest[] = [];
  const notes: (Date | null)[] = [];
  const driver = {
    engine: 'postgres',
    create: async (request: CreateRequest) => {
      calls.push('driver.create');
      creates.push(request);
      if (request.copy) {
        await request.copy.closedNote.set();
        await request.copy.closedNote.clear();
      }
      return { outcome: 'created', warnings: [] };
    },
    drop: async () => (calls.push('driver.drop'), { outcome: 'dropped', warnings: [] }),
    rename: async () => (calls.push('driver.rename'), { outcome: 'renamed', warnings: [] }),
    adopt: async () => (calls.push('driver.adopt'), { outcome: 'adopted', warnings: [] }),
    release: async (r: { ownsNothing: boolean }) => (
      calls.push(`driver.release${r.ownsNothing ? ' (owns nothing)' : ''}`),
      { outcome: 'released', warnings: [] }
    ),
  } as unknown as EngineDriver;
  const registry = {
    preflight: async () => {
      calls.push('registry.preflight');
      if (options.preflightFails) throw new PermanentJobError('unknown API client key');
    },
    register: async () => {
      calls.push('registry.register');
      if (options.registerFails) throw new PermanentJobError('the name is taken');
      return { outcome: 'registered', odsInstanceId: 7, warnings: [] };
    },
    repoint: async () => (calls.push('registry.repoint'), { outcome: 'repointed', odsInstanceId: 7, warnings: [] }),
    unregister: async () => {
      calls.push('registry.unregister');
      if (options.unregisterFails) throw new PermanentJobError('links remain');
      return { outcome: 'unregistered', odsInstanceId: null, warnings: ['forced delete removed …'] };
    },
  };
  const registrations = { enabled: true, for: () => registry } as unknown as Registrations;
  const instance = {
    id: 'i-1',
    instanceName: 'Grand Bend 2025',
    instanceType: null,
    tenant: '',
    contexts: [],
    apiClientKeys: [],
    odsInstanceId: null,
    protected: options.protected ?? false,
  } as unknown as InstanceEntity;
  const deps = {
    driver,
    templateDatabase: 'template',
    createJobIdsOf: async () => [],
    instanceOf: async () => instance,
    noteSourceClosed: async (_jobId: string, at: Date | null) => void notes.push(at),
  };
  return {
    calls,
    creates,
    notes,
    on: createHandlers({ ...deps, registrations }),
    guarded: createHandlers({
      ...deps,
      registrations,
      isTemplateDatabase: (n: string) => n.toLowerCase() === 'edfi_ods_b',
    }),
    off: createHandlers({ ...deps, registrations: Registrations.none() }),
  };
}

const job = (type: JobEntity['type'], extra: Partial<JobEntity> = {}) =>
  ({
    id: 'j-1',
    instanceId: 'i-1',
    type,
    sourceDatabaseName: 'EdFi_Ods_A',
    targetDatabaseName: 'EdFi_Ods_B',
    priorStatus: 'Created',
    force: false,
    adopt: false,
    ...extra,
  }) as unknown as JobEntity;

describe('job handlers and EdFi_Admin registration', () => {
  it('with registration off, only the database work runs', async () => {
    const f = fakes();
    for (const type of ['create', 'rename', 'delete'] as const) await f.off[type](job(type));
    expect(f.calls).to.deep.equal(['driver.create', 'driver.rename', 'driver.drop']);
  });

  it('create: checks, clones, then registers; the OdsInstanceId comes back with the result', async () => {
    const f = fakes();
    const result = await f.on.create(job('create'));
    expect(f.calls).to.deep.equal(['registry.preflight', 'driver.create', 'registry.register']);
    expect(result.registration).to.deep.equal({ outcome: 'registered', odsInstanceId: 7 });
  });

  it("create: copies the deployment's template, or the database the job names (a copy's source)", async () => {
    const f = fakes();
    await f.off.create({ ...job('create'), sourceDatabaseName: null });
    await f.off.create({ ...job('create'), sourceInstanceId: 'i-0', disconnectSource: true });
    expect(f.creates.map((c) => c.templateDatabase)).to.deep.equal(['template', 'EdFi_Ods_A']);
    expect(f.creates[0]!.copy).to.equal(undefined);
    expect(f.creates[1]!.copy).to.include({ sourceInstanceId: 'i-0', disconnectSource: true });
  });

  it("create: a copy's note that it shut the source is written to the job row and seen by the next try", async () => {
    const f = fakes();
    const copying = {
      ...job('create'),
      sourceInstanceId: 'i-0',
      disconnectSource: true,
      sourceClosedAt: null,
    } as JobEntity;
    const note = () => f.creates.at(-1)!.copy!.closedNote;
    await f.off.create(copying);
    expect(f.notes.map((n) => n instanceof Date)).to.deep.equal([true, false]);
    expect(f.notes[1]).to.equal(null);
    expect(note().isSet()).to.equal(false);
    await note().set();
    expect(copying.sourceClosedAt).to.be.instanceOf(Date);
    expect(note().isSet()).to.equal(true);
  });

  it('create: a registration refused for good after the clone drops the clone and fails', async () => {
    const f = fakes({ registerFails: true });
    const err = await f.on.create(job('create')).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(PermanentJobError);
    expect(f.calls).to.deep.equal(['registry.preflight', 'driver.create', 'registry.register', 'driver.drop']);
  });

  it('create: a preflight refusal clones nothing, and clears what an earlier run may have left', async () => {
    const f = fakes({ preflightFails: true });
    const err = await f.on.create(job('create')).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(PermanentJobError);
    expect(f.calls).to.deep.equal(['registry.preflight', 'driver.drop']);
  });

  it('rename and delete of a protected instance fail for good before touching the server or EdFi_Admin', async () => {
    for (const registration of ['on', 'off'] as const) {
      const f = fakes({ protected: true });
      for (const type of ['rename', 'delete'] as const) {
        const err = await f[registration][type](job(type)).catch((e: unknown) => e);
        expect(err).to.be.instanceOf(PermanentJobError);
        expect((err as Error).message).to.match(/protected.*unprotect/);
      }
      expect(f.calls).to.deep.equal([]);
    }
  });

  it('rename: renames the database, then re-points the row', async () => {
    const f = fakes();
    await f.on.rename(job('rename'));
    expect(f.calls).to.deep.equal(['driver.rename', 'registry.repoint']);
  });

  it('delete: unregisters, then drops; the removed links are warnings of the job', async () => {
    const f = fakes();
    const result = await f.on.delete(job('delete'));
    expect(f.calls).to.deep.equal(['registry.unregister', 'driver.drop']);
    expect(result.warnings).to.deep.equal(['forced delete removed …']);
    expect(result.registration).to.deep.equal({ outcome: 'unregistered', odsInstanceId: null });
  });

  it('delete: a refusal (links remain) leaves the database alone', async () => {
    const f = fakes({ unregisterFails: true });
    await f.on.delete(job('delete')).catch(() => undefined);
    expect(f.calls).to.deep.equal(['registry.unregister']);
  });

  it("refuses any job whose target is a template's database, before the driver or EdFi_Admin is touched", async () => {
    const f = fakes();
    // job(): source EdFi_Ods_A, target EdFi_Ods_B; the guard says EdFi_Ods_B is a template.
    for (const type of ['create', 'rename'] as const) {
      let err: unknown;
      await f.guarded[type](job(type)).catch((e: unknown) => (err = e));
      expect(err, type).to.be.instanceOf(PermanentJobError);
      expect((err as Error).message).to.include(`"EdFi_Ods_B" is a template's database (ODS_TEMPLATES): no ${type}`);
    }
    const deleting = { ...job('delete'), sourceDatabaseName: 'EdFi_Ods_B' } as JobEntity;
    let err: unknown;
    await f.guarded.delete(deleting).catch((e: unknown) => (err = e));
    expect(err).to.be.instanceOf(PermanentJobError);
    expect(f.calls).to.deep.equal([]);
  });

  it('adopt: checks EdFi_Admin, marks the existing database (no clone), then registers', async () => {
    const f = fakes();
    const result = await f.on.create(job('create', { adopt: true }));
    expect(f.calls).to.deep.equal(['registry.preflight', 'driver.adopt', 'registry.register']);
    expect(result.registration).to.deep.equal({ outcome: 'registered', odsInstanceId: 7 });
  });

  it('adopt: a registration refused for good removes the marker again and never drops', async () => {
    const f = fakes({ registerFails: true });
    const err = await f.on.create(job('create', { adopt: true })).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(PermanentJobError);
    expect((err as Error).message).to.equal('the name is taken');
    expect(f.calls).to.deep.equal([
      'registry.preflight',
      'driver.adopt',
      'registry.register',
      'driver.release (owns nothing)',
    ]);
  });

  it('adopt: refuses a system, template, reserved or staging name before touching anything', async () => {
    for (const name of ['postgres', 'template', 'EdFi_Admin', 'odsim_staging_0123abcd']) {
      const f = fakes();
      const handlers = createHandlers({
        driver: { engine: 'postgres', adopt: async () => f.calls.push('driver.adopt') } as unknown as EngineDriver,
        templateDatabase: 'template',
        reservedNames: ['EdFi_Admin'],
        noteSourceClosed: async () => undefined,
        createJobIdsOf: async () => [],
        instanceOf: async () => {
          throw new Error('not reached');
        },
        registrations: Registrations.none(),
      });
      const err = await handlers
        .create(job('create', { adopt: true, targetDatabaseName: name }))
        .catch((e: unknown) => e);
      expect(err, name).to.be.instanceOf(PermanentJobError);
      expect((err as Error).message).to.match(new RegExp(`refusing to adopt database "${name}"`));
      expect(f.calls).to.deep.equal([]);
    }
  });

  it('release: unregisters, then removes the marker (never drops); refused links leave the marker', async () => {
    const f = fakes();
    await f.on.release(job('release'));
    expect(f.calls).to.deep.equal(['registry.unregister', 'driver.release']);
    const refused = fakes({ unregisterFails: true });
    await refused.on.release(job('release')).catch(() => undefined);
    expect(refused.calls).to.deep.equal(['registry.unregister']);
    const failedCreate = fakes();
    await failedCreate.off.release(job('release', { priorStatus: 'CreateFailed' }));
    expect(failedCreate.calls).to.deep.equal(['driver.release (owns nothing)']);
  });

  it('release of a protected instance fails for good before touching anything', async () => {
    const f = fakes({ protected: true });
    const err = await f.on.release(job('release')).catch((e: unknown) => e);
    expect((err as Error).message).to.match(/protected.*release job was not run/);
    expect(f.calls).to.deep.equal([]);
  });
});
