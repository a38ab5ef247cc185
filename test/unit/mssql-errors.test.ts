import { expect } from 'chai';
import sql from 'mssql';
import {
  errorNumber,
  errorNumbers,
  isBackupPathError,
  isConnectionFailure,
  isPermissionDenied,
  isTransientMssqlError,
  MSSQL_ERROR,
} from '../../worker/engines/mssql/errors';
import { MssqlDriver } from '../../worker/engines/mssql/driver';
import { parseMssqlSettings } from '../../worker/engines/mssql/settings';
import { PermanentJobError } from '../../shared/errors';
import { silentLogger } from '../../shared/logger';

/** A server error as tedious reports it, wrapped by mssql's own RequestError (which copies info.number to number). */
function serverError(number: number, message = `error ${number}`): sql.RequestError {
  return new sql.RequestError(Object.assign(new Error(message), { info: { number, state: 1, class: 16 } }), 'EREQUEST');
}

/** The last error of a statement, carrying the earlier ones as mssql does (BACKUP: 3201, then 3013). */
function withPreceding(last: sql.RequestError, ...earlier: sql.RequestError[]): sql.RequestError {
  return Object.assign(last, { precedingErrors: earlier });
}

describe('what SQL Server errors mean', () => {
  it("reads the error number from mssql's RequestError, and from originalError.info", () => {
    expect(errorNumber(serverError(1205))).to.equal(1205);
    expect(serverError(1205).number).to.equal(1205);
    expect(errorNumber({ originalError: { info: { number: 3702 } } })).to.equal(3702);
    expect(errorNumber(new Error('outer', { cause: serverError(5030) }))).to.equal(5030);
    expect(errorNumber('not an error')).to.equal(undefined);
  });

  it('reads the numbers of the errors that came before the last one', () => {
    const backup = withPreceding(
      serverError(3013, 'BACKUP DATABASE is terminating abnormally.'),
      serverError(3201, 'Cannot open backup device'),
    );
    expect(errorNumbers(backup)).to.have.members([3013, 3201]);
  });

  const transient: [string, unknown][] = [
    ['a deadlock victim (1205)', serverError(1205)],
    ['a lock request timeout (1222)', serverError(1222)],
    ['a database in use on drop (3702)', serverError(3702)],
    ['a database that could not be exclusively locked (5030)', serverError(5030)],
    ['a single-user database someone else holds (924)', serverError(924)],
    ['Azure: one copy per source at a time (40565)', serverError(40565)],
    ['Azure: database unavailable (40613)', serverError(40613)],
    ['Azure: service busy (40501)', serverError(40501)],
    ['Azure: error processing the request (40197)', serverError(40197)],
    ['a client timeout (-2)', serverError(-2)],
    [
      'a request timeout (ETIMEOUT)',
      new sql.RequestError('Timeout: Request failed to complete in 60000ms', 'ETIMEOUT'),
    ],
    ['a lost socket (ESOCKET)', new sql.ConnectionError('Failed to connect to db:1433', 'ESOCKET')],
    ['a closed connection (ECONNCLOSED)', new sql.ConnectionError('Connection is closed.', 'ECONNCLOSED')],
    ['a refused connection (ECONNREFUSED)', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })],
    [
      'a backup file another backup of the same template holds (3201, operating system error 32)',
      withPreceding(
        serverError(3013, 'BACKUP DATABASE is terminating abnormally.'),
        serverError(
          3201,
          "Cannot open backup device 'C:\\b\\odsim_template_t.bak'. Operating system error 32(The process cannot access the file because it is being used by another process.).",
        ),
      ),
    ],
  ];
  for (const [what, err] of transient) {
    it(`retries ${what}`, () => {
      expect(isTransientMssqlError(err)).to.equal(true);
    });
  }

  const permanent: [string, unknown][] = [
    ['a database that already exists (1801)', serverError(1801)],
    ['a database that does not exist (3701)', serverError(3701)],
    ['permission denied in a database (262)', serverError(262)],
    ['permission denied on an object (229)', serverError(229)],
    ['no access to a database (916)', serverError(916)],
    ['no permission for the action (15247)', serverError(15247)],
    [
      'a backup directory the service cannot write (3201, then 3013)',
      withPreceding(
        serverError(3013),
        serverError(3201, "Cannot open backup device '/nope/x.bak'. Operating system error 2(file not found)."),
      ),
    ],
    ['a syntax error (102)', serverError(102)],
    ['a failed login (ELOGIN)', new sql.ConnectionError("Login failed for user 'odsim'.", 'ELOGIN')],
  ];
  for (const [what, err] of permanent) {
    it(`does not retry ${what}`, () => {
      expect(isTransientMssqlError(err)).to.equal(false);
    });
  }

  it('tells permission failures and backup path failures apart', () => {
    for (const n of [262, 229, 916, 15247]) expect(isPermissionDenied(serverError(n)), String(n)).to.equal(true);
    expect(isPermissionDenied(serverError(1801))).to.equal(false);
    expect(
      isBackupPathError(
        withPreceding(serverError(3013), serverError(3201, 'Operating system error 5(Access is denied.)')),
      ),
    ).to.equal(true);
    expect(isBackupPathError(serverError(3013))).to.equal(false);
    expect(isConnectionFailure(serverError(1205))).to.equal(false);
    expect(MSSQL_ERROR.exclusiveLock).to.equal(5030);
  });

  it('the driver never retries its own refusals, and retries what the server says may pass', () => {
    const driver = new MssqlDriver({
      serverUrl: 'mssql://odsim:secret@127.0.0.1:1/master',
      settings: parseMssqlSettings({}).settings,
      log: silentLogger(),
    });
    expect(driver.isTransient(new PermanentJobError('refusing to drop'))).to.equal(false);
    expect(driver.isTransient(serverError(3702))).to.equal(true);
    expect(driver.isTransient(serverError(1801))).to.equal(false);
    expect(driver.isTransient(Object.assign(new Error('staging busy'), { code: 'ODSIM_STAGING_BUSY' }))).to.equal(true);
  });

  it('calls a server that cannot be reached a transient failure (a real refused connection, no server needed)', async () => {
    const driver = new MssqlDriver({
      serverUrl: 'mssql://odsim:secret@127.0.0.1:1/master?connectTimeout=2000',
      settings: parseMssqlSettings({}).settings,
      log: silentLogger(),
    });
    try {
      const request = {
        instanceId: 'i',
        databaseName: 'EdFi_Ods_1',
        templateDatabase: 't',
        stagingName: 'odsim_staging_1',
      };
      const err = await driver.create(request).then(
        () => expect.fail('expected the connection to be refused'),
        (e: unknown) => e,
      );
      expect(isConnectionFailure(err)).to.equal(true);
      expect(driver.isTransient(err)).to.equal(true);
    } finally {
      await driver.close();
    }
  });
});
