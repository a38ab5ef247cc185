import { expect } from 'chai';
import { ENGINES, nameRulesFor, reservedNameSet, STAGING_PREFIX } from '../../shared/database-names';
import { bracket } from '../../worker/engines/mssql/names';

const rules = nameRulesFor('mssql');
const reserved = reservedNameSet('mssql', ['EdFi_Admin', 'EdFi_Security']);
const problemsWith = (name: string) => rules.validate(name, reserved);

describe('SQL Server database names', () => {
  it('is an engine the product lists, with names up to 128 characters (sysname)', () => {
    expect(ENGINES).to.include('mssql');
    expect(rules.maxLength).to.equal(128);
  });

  for (const name of ['EdFi_Ods_255901_2026', 'a', 'Z9', 'grand_bend_isd', 'x_', 'EdFi_Ods_Sandbox_ABC123']) {
    it(`accepts ${name} and brackets it`, () => {
      expect(problemsWith(name)).to.deep.equal([]);
      expect(rules.quote(name)).to.equal(`[${name}]`);
    });
  }

  it('accepts a name of exactly 128 characters and refuses 129', () => {
    expect(problemsWith('a'.repeat(128))).to.deep.equal([]);
    expect(rules.quote('a'.repeat(128))).to.equal(`[${'a'.repeat(128)}]`);
    expect(problemsWith('a'.repeat(129))).to.deep.equal(['must be at most 128 characters on SQL Server (got 129)']);
    expect(() => rules.quote('a'.repeat(129))).to.throw(/refusing to quote/);
  });

  for (const name of [
    'a]b',
    'EdFi-Ods',
    'has space',
    '1st',
    '_lead',
    '#temp',
    '@var',
    'tab\tname',
    'Ödön',
    "o'brien",
  ]) {
    it(`refuses ${JSON.stringify(name)}, and will not quote it as an instance name`, () => {
      expect(problemsWith(name)).to.include(
        'must start with a letter and contain only ASCII letters, digits and underscores',
      );
      expect(() => rules.quote(name)).to.throw(/refusing to quote an invalid SQL Server database name/);
    });
  }

  for (const name of [
    'master',
    'MODEL',
    'msdb',
    'TempDB',
    'rdsadmin',
    'distribution',
    'SSISDB',
    'ReportServer',
    'EdFi_Admin',
  ]) {
    it(`refuses the reserved name ${name}, in any letter case`, () => {
      expect(problemsWith(name)).to.include('is reserved (a system, admin or template database)');
    });
  }

  it('refuses the staging prefix, in any letter case', () => {
    expect(problemsWith(`${STAGING_PREFIX}abc`)).to.include(
      `must not start with "${STAGING_PREFIX}" (used while cloning)`,
    );
    expect(problemsWith('ODSIM_STAGING_abc')).to.have.length(1);
  });

  describe('bracket (configured names such as the template)', () => {
    it('doubles every closing bracket', () => {
      expect(bracket('a]b')).to.equal('[a]]b]');
      expect(bracket('x]]')).to.equal('[x]]]]]');
      expect(bracket('Ed-Fi Template [v7]')).to.equal('[Ed-Fi Template [v7]]]');
    });

    it('refuses an empty name, one over 128 characters, and control characters', () => {
      expect(() => bracket('')).to.throw(/refusing/);
      expect(() => bracket('a'.repeat(129))).to.throw(/refusing/);
      expect(() => bracket('a\u0000b')).to.throw(/refusing/);
      expect(() => bracket('a\nb')).to.throw(/refusing/);
    });
  });
});
