import { expect } from 'chai';
import { judgeRole, RoleFindings } from '../../worker/engines/postgres/role-check';

/** A login as a managed service's admin would make it for the worker: CREATEDB, no more. */
function cloudLogin(
  overrides: Partial<Omit<RoleFindings, 'template'>> = {},
  template: Partial<RoleFindings['template']> = {},
): RoleFindings {
  return {
    role: 'odsim_worker',
    roleSql: 'odsim_worker',
    superuser: false,
    createdb: true,
    signalBackend: true,
    providerRoles: [],
    providerRolesHeld: [],
    serverVersion: 160004,
    ...overrides,
    template: {
      name: 'EdFi_Ods_Minimal_Template',
      nameSql: '"EdFi_Ods_Minimal_Template"',
      exists: true,
      isTemplate: true,
      owner: 'admin',
      ownedByRole: false,
      connect: true,
      ...template,
    },
  };
}

const judge = (found: RoleFindings, standInRequested = false) => judgeRole(found, { standInRequested });

describe('the start-up check of the PostgreSQL login (what the findings mean)', () => {
  it('passes a login with CREATEDB and pg_signal_backend and a template marked IS_TEMPLATE, and lists what it can do', () => {
    const verdict = judge(cloudLogin());
    expect(verdict.problems).to.deep.equal([]);
    expect(verdict.warnings).to.deep.equal([]);
    expect(verdict.capabilities).to.deep.equal([
      'CREATEDB',
      'pg_signal_backend',
      'template "EdFi_Ods_Minimal_Template" is marked IS_TEMPLATE',
      'CONNECT on template "EdFi_Ods_Minimal_Template"',
    ]);
  });

  it('passes a superuser whatever the template is marked or owned by', () => {
    const verdict = judge(
      cloudLogin({ superuser: true, createdb: false }, { isTemplate: false, ownedByRole: false, owner: 'someone' }),
    );
    expect(verdict.problems).to.deep.equal([]);
    expect(verdict.capabilities).to.include('SUPERUSER');
  });

  it('passes a template the login owns but that is not marked IS_TEMPLATE', () => {
    const verdict = judge(cloudLogin({}, { isTemplate: false, ownedByRole: true, owner: 'odsim_worker' }));
    expect(verdict.problems).to.deep.equal([]);
    expect(verdict.capabilities).to.include('owns template "EdFi_Ods_Minimal_Template"');
  });

  it('refuses a login without CREATEDB, naming the statement that grants it', () => {
    const { problems } = judge(cloudLogin({ createdb: false }));
    expect(problems).to.have.length(1);
    expect(problems[0]).to.include('lacks CREATEDB').and.include('ALTER ROLE odsim_worker CREATEDB;');
  });

  it('refuses a template neither marked IS_TEMPLATE nor owned, naming both ways out', () => {
    const { problems } = judge(cloudLogin({}, { isTemplate: false, owner: 'admin' }));
    expect(problems).to.have.length(1);
    expect(problems[0])
      .to.include('"EdFi_Ods_Minimal_Template" cannot be copied')
      .and.include('owned by "admin"')
      .and.include('ALTER DATABASE "EdFi_Ods_Minimal_Template" IS_TEMPLATE true;')
      .and.include('ALTER DATABASE "EdFi_Ods_Minimal_Template" OWNER TO odsim_worker;');
  });

  it('warns of a missing template without refusing (deletes and renames still work), and says the stand-in needs CREATEDB', () => {
    const missing = { exists: false, isTemplate: false, owner: null, ownedByRole: false, connect: false };
    const verdict = judge(cloudLogin({}, missing));
    expect(verdict.problems).to.deep.equal([]);
    expect(verdict.warnings.map((w) => w.message)).to.deep.equal([
      'template database "EdFi_Ods_Minimal_Template" (ODS_TEMPLATE_DATABASE) does not exist on the ODS server: ' +
        'every create fails until it does (renames and deletes work). ' +
        'Restore the Ed-Fi template under that name, or set ODS_TEMPLATE_DATABASE to the name it has.',
    ]);
    const noCreatedb = judge(cloudLogin({ createdb: false }, missing), true);
    expect(noCreatedb.problems).to.have.length(1);
    expect(noCreatedb.problems[0]).to.include('lacks CREATEDB');
    expect(noCreatedb.warnings[0]!.message).to.include(
      'ODS_TEMPLATE_STANDIN builds a stand-in only for a login with CREATEDB',
    );
  });

  it('warns, without refusing, of a login outside pg_signal_backend, naming what fails and the grant', () => {
    const verdict = judge(cloudLogin({ signalBackend: false }));
    expect(verdict.problems).to.deep.equal([]);
    expect(verdict.warnings).to.have.length(1);
    expect(verdict.warnings[0]!.message)
      .to.include('renaming an instance and deleting one fail')
      .and.include('GRANT pg_signal_backend TO odsim_worker;')
      .and.not.include('rds_superuser');
  });

  it("names the provider's admin role as the other way to pg_signal_backend on a managed server", () => {
    const verdict = judge(cloudLogin({ signalBackend: false, providerRoles: ['rds_superuser'] }));
    expect(verdict.warnings[0]!.message).to.include('GRANT rds_superuser TO odsim_worker;');
    const held = judge(cloudLogin({ providerRoles: ['azure_pg_admin'], providerRolesHeld: ['azure_pg_admin'] }));
    expect(held.capabilities).to.include('member of azure_pg_admin');
  });
});
