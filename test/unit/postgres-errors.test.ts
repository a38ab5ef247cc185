import { expect } from 'chai';
import { QueryFailedError } from 'typeorm';
import {
  errorCode,
  isConnectionFailure,
  isDuplicateDatabase,
  isSerializationFailure,
  violatedUniqueConstraint,
} from '../../shared/database/postgres-errors';

/** An error as node-postgres raises it. */
const pgError = (code: string, message = 'failed', extra: Record<string, unknown> = {}) =>
  Object.assign(new Error(message), { code, ...extra });
/** The same error as TypeORM wraps it. */
const wrapped = (err: Error) => new QueryFailedError('SELECT 1', [], err);

describe('what PostgreSQL errors mean', () => {
  it("reads the SQLSTATE through TypeORM's wrapper and an Error's cause", () => {
    expect(errorCode(wrapped(pgError('40P01')))).to.equal('40P01');
    expect(errorCode(new Error('outer', { cause: pgError('55P03') }))).to.equal('55P03');
    expect(errorCode('not an error')).to.equal(undefined);
  });

  for (const [what, err] of [
    ['a refused connection', pgError('ECONNREFUSED')],
    ['a connection class SQLSTATE (08006)', pgError('08006')],
    ['a server shutting down (57P01)', wrapped(pgError('57P01'))],
    ['too many connections (53300)', pgError('53300')],
    [
      'a database not accepting connections (55000)',
      pgError('55000', 'database "x" is not currently accepting connections'),
    ],
    ['a pool that timed out', new Error('timeout exceeded when trying to connect')],
    ['a silent server (query read timeout)', new Error('Query read timeout')],
  ] as const) {
    it(`counts ${what} as a connection failure`, () => {
      expect(isConnectionFailure(err)).to.equal(true);
    });
  }

  it('does not count a bad statement, or another 55000, as a connection failure', () => {
    expect(isConnectionFailure(pgError('42601', 'syntax error'))).to.equal(false);
    expect(isConnectionFailure(pgError('55000', 'cannot execute in a read-only transaction'))).to.equal(false);
  });

  it('knows lost races, duplicate databases and which unique constraint was violated', () => {
    expect(isSerializationFailure(wrapped(pgError('40P01')))).to.equal(true);
    expect(isSerializationFailure(pgError('40001'))).to.equal(true);
    expect(isSerializationFailure(pgError('23505'))).to.equal(false);
    expect(isDuplicateDatabase(pgError('42P04'))).to.equal(true);
    expect(isDuplicateDatabase(pgError('23505'))).to.equal(true);
    expect(violatedUniqueConstraint(wrapped(pgError('23505', 'dup', { constraint: 'uq_x' })))).to.equal('uq_x');
    expect(violatedUniqueConstraint(pgError('23503', 'fk', { constraint: 'fk_x' }))).to.equal(undefined);
  });
});
