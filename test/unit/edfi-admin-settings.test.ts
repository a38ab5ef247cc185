import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { ConfigurationError } from '../../shared/errors';
import { databaseNameIn, loadRegistrationSettings, odsConnectionStringFor } from '../../worker/edfi-admin/settings';

const KEY = randomBytes(32).toString('base64');
const CONNECTION = 'host=db;port=5432;username=ods_app;password=pw;database={databaseName}';

function problemsOf(env: NodeJS.ProcessEnv): string[] {
  try {
    loadRegistrationSettings(env);
  } catch (err) {
    expect(err).to.be.instanceOf(ConfigurationError);
    return (err as ConfigurationError).problems;
  }
  throw new Error('expected a ConfigurationError');
}

describe('EdFi_Admin registration settings', () => {
  it('is off without EDFI_ADMIN_DATABASE_URL', () => {
    expect(loadRegistrationSettings({}).size).to.equal(0);
    expect(loadRegistrationSettings({ EDFI_ADMIN_ENCRYPTION_KEY: KEY }).size).to.equal(0);
  });

  it('reads one EdFi_Admin without tenants', () => {
    const settings = loadRegistrationSettings({
      EDFI_ADMIN_DATABASE_URL: 'postgres://u:p@h/EdFi_Admin',
      EDFI_ADMIN_ENCRYPTION_KEY: KEY,
      EDFI_ODS_CONNECTION_STRING: CONNECTION,
    });
    const target = settings.get('')!;
    expect(target.databaseUrl).to.equal('postgres://u:p@h/EdFi_Admin');
    expect(target.encryptionKey.toString('base64')).to.equal(KEY);
    expect(target.odsConnectionString).to.equal(CONNECTION);
  });

  it('refuses a URL without the key and the connection string, naming them and showing no value', () => {
    const problems = problemsOf({ EDFI_ADMIN_DATABASE_URL: 'postgres://u:secretpw@h/EdFi_Admin' });
    expect(problems.join('\n')).to.match(/EDFI_ADMIN_ENCRYPTION_KEY is required/);
    expect(problems.join('\n')).to.match(/EDFI_ODS_CONNECTION_STRING is required/);
    expect(problems.join('\n')).not.to.include('secretpw');
  });

  it('refuses a key that is not base64 of 32 bytes, and a connection string without {databaseName}', () => {
    const problems = problemsOf({
      EDFI_ADMIN_DATABASE_URL: 'postgres://h/EdFi_Admin',
      EDFI_ADMIN_ENCRYPTION_KEY: randomBytes(16).toString('base64'),
      EDFI_ODS_CONNECTION_STRING: 'host=db;password=hunter2;database=EdFi_Ods',
    }).join('\n');
    expect(problems).to.match(/EDFI_ADMIN_ENCRYPTION_KEY=\(hidden\): must be the base64 encoding of exactly 32 bytes/);
    expect(problems).to.match(/EDFI_ODS_CONNECTION_STRING=\(hidden\): must contain \{databaseName\}/);
    expect(problems).not.to.include('hunter2');
  });

  it('refuses a URL that is not postgres://', () => {
    expect(
      problemsOf({
        EDFI_ADMIN_DATABASE_URL: 'mssql://h/EdFi_Admin',
        EDFI_ADMIN_ENCRYPTION_KEY: KEY,
        EDFI_ODS_CONNECTION_STRING: CONNECTION,
      }).join('\n'),
    ).to.match(/EDFI_ADMIN_DATABASE_URL=\(hidden\): must be a postgres:\/\/ URL/);
  });

  it("reads each tenant's own settings, the connection string falling back to the unsuffixed one", () => {
    const other = randomBytes(32).toString('base64');
    const settings = loadRegistrationSettings({
      TENANTS: 'district-a,district-b,district-c',
      EDFI_ADMIN_DATABASE_URL_DISTRICT_A: 'postgres://h/EdFi_Admin_A',
      EDFI_ADMIN_ENCRYPTION_KEY_DISTRICT_A: KEY,
      EDFI_ADMIN_DATABASE_URL_DISTRICT_B: 'postgres://h/EdFi_Admin_B',
      EDFI_ADMIN_ENCRYPTION_KEY_DISTRICT_B: other,
      EDFI_ODS_CONNECTION_STRING_DISTRICT_B: 'host=b;database={databaseName}',
      EDFI_ODS_CONNECTION_STRING: CONNECTION,
    });
    expect([...settings.keys()]).to.deep.equal(['district-a', 'district-b']);
    expect(settings.get('district-a')!.odsConnectionString).to.equal(CONNECTION);
    expect(settings.get('district-b')!.odsConnectionString).to.equal('host=b;database={databaseName}');
    expect(settings.get('district-b')!.encryptionKey.toString('base64')).to.equal(other);
  });

  it('with tenants, refuses the unsuffixed URL and a tenant URL without its key', () => {
    const problems = problemsOf({
      TENANTS: 'a',
      EDFI_ADMIN_DATABASE_URL: 'postgres://h/EdFi_Admin',
      EDFI_ADMIN_DATABASE_URL_A: 'postgres://h/EdFi_Admin_A',
      EDFI_ODS_CONNECTION_STRING: CONNECTION,
    }).join('\n');
    expect(problems).to.match(/EDFI_ADMIN_DATABASE_URL is not used when TENANTS is set/);
    expect(problems).to.match(/EDFI_ADMIN_ENCRYPTION_KEY_A is required/);
  });

  it('puts the database name in the connection string, and finds it there again', () => {
    const plain = odsConnectionStringFor(CONNECTION, 'EdFi_Ods_2025');
    expect(plain).to.equal('host=db;port=5432;username=ods_app;password=pw;database=EdFi_Ods_2025');
    expect(databaseNameIn(plain)).to.equal('EdFi_Ods_2025');
    expect(databaseNameIn('Server=s;Initial Catalog=EdFi_Ods_X;Trusted_Connection=true')).to.equal('EdFi_Ods_X');
    expect(databaseNameIn('host=s')).to.equal(null);
    expect(() => odsConnectionStringFor(CONNECTION, 'a;password=x')).to.throw();
  });
});
