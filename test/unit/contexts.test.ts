import { expect } from 'chai';
import {
  contextSetKey,
  contextValueProblem,
  defaultNamePattern,
  deriveDatabaseName,
  namePatternProblems,
} from '../../shared/instances/contexts';

describe('ODS/API route contexts', () => {
  describe('values', () => {
    it('takes a school year from 2000 to 2099, as the default route range(2000,2099)', () => {
      for (const year of ['2000', '2025', '2099'])
        expect(contextValueProblem('schoolYearFromRoute', year)).to.be.undefined;
      for (const year of ['1999', '2100', '25', '02025', ' 2025', '2025 ', 'abcd', "2025'; DROP TABLE instances;--"])
        expect(contextValueProblem('schoolYearFromRoute', year), year).to.match(/school year/);
    });

    it('knows the school year key whatever its case', () => {
      expect(contextValueProblem('SchoolYearFromRoute', '1999')).to.match(/school year/);
    });

    it('takes ids of 1 to 10 digits without a leading zero for any key ending in IdFromRoute', () => {
      for (const key of ['districtIdFromRoute', 'educationOrganizationIdFromRoute', 'LEAIDFROMROUTE']) {
        expect(contextValueProblem(key, '255901')).to.be.undefined;
        expect(contextValueProblem(key, '9999999999')).to.be.undefined;
        for (const bad of ['0', '0255901', '12345678901', '-1', '1e5', '25 59'])
          expect(contextValueProblem(key, bad), `${key}=${bad}`).to.match(/id/);
      }
    });

    it('takes letters, digits, _ and - (1 to 50) for other keys', () => {
      expect(contextValueProblem('instanceFromRoute', 'north-campus_2')).to.be.undefined;
      expect(contextValueProblem('instanceFromRoute', 'x'.repeat(50))).to.be.undefined;
      for (const bad of ['', 'x'.repeat(51), 'a b', "a'b", 'a;b', 'é'])
        expect(contextValueProblem('instanceFromRoute', bad), bad).to.match(/1 to 50/);
    });
  });

  describe('the set key', () => {
    it('folds keys and values and sorts by key, as the ODS/API compares case-insensitively', () => {
      expect(
        contextSetKey([
          { contextKey: 'SchoolYearFromRoute', contextValue: '2025' },
          { contextKey: 'districtIdFromRoute', contextValue: '255901' },
        ]),
      ).to.equal('districtidfromroute=255901&schoolyearfromroute=2025');
      expect(contextSetKey([{ contextKey: 'SchoolYearFromRoute', contextValue: '2025' }])).to.equal(
        contextSetKey([{ contextKey: 'schoolyearfromroute', contextValue: '2025' }]),
      );
    });

    it('is null without contexts, so instances without contexts never collide', () => {
      expect(contextSetKey([])).to.equal(null);
      expect(contextSetKey(undefined)).to.equal(null);
    });
  });

  describe('database names from a pattern', () => {
    it('defaults to EdFi_Ods_ and the keys in their order', () => {
      expect(defaultNamePattern(['districtIdFromRoute', 'schoolYearFromRoute'])).to.equal(
        'EdFi_Ods_{districtIdFromRoute}_{schoolYearFromRoute}',
      );
    });

    it('replaces each placeholder by its value, keys matched case-insensitively', () => {
      expect(
        deriveDatabaseName('EdFi_Ods_{districtIdFromRoute}_{schoolYearFromRoute}', [
          { contextKey: 'SchoolYearFromRoute', contextValue: '2025' },
          { contextKey: 'districtidfromroute', contextValue: '255901' },
        ]),
      ).to.equal('EdFi_Ods_255901_2025');
    });

    it('accepts the year-specific and district-and-year patterns on PostgreSQL', () => {
      expect(namePatternProblems('EdFi_Ods_{schoolYearFromRoute}', ['schoolYearFromRoute'], 'postgres')).to.deep.equal(
        [],
      );
      expect(
        namePatternProblems(
          'EdFi_Ods_{districtIdFromRoute}_{schoolYearFromRoute}',
          ['districtIdFromRoute', 'schoolYearFromRoute'],
          'postgres',
        ),
      ).to.deep.equal([]);
    });

    it('refuses placeholders that are not context keys, and patterns without any', () => {
      expect(namePatternProblems('EdFi_Ods_{year}', ['schoolYearFromRoute'], 'postgres').join()).to.match(
        /\{year\}, not among ODS_CONTEXT_KEYS/,
      );
      expect(namePatternProblems('EdFi_Ods', ['schoolYearFromRoute'], 'postgres').join()).to.match(/no \{contextKey\}/);
    });

    it('refuses a pattern whose longest values make a name over 63 bytes', () => {
      const pattern = `${'E'.repeat(50)}_{districtIdFromRoute}_{schoolYearFromRoute}`; // 50 + 1 + 10 + 1 + 4 = 66
      expect(namePatternProblems(pattern, ['districtIdFromRoute', 'schoolYearFromRoute'], 'postgres').join()).to.match(
        /63 bytes/,
      );
      const fits = `${'E'.repeat(47)}_{districtIdFromRoute}_{schoolYearFromRoute}`; // 63
      expect(namePatternProblems(fits, ['districtIdFromRoute', 'schoolYearFromRoute'], 'postgres')).to.deep.equal([]);
    });

    it('refuses a pattern that can produce a name PostgreSQL would refuse', () => {
      // Starts with a digit.
      expect(namePatternProblems('{schoolYearFromRoute}_Ods', ['schoolYearFromRoute'], 'postgres').join()).to.match(
        /start with a letter/,
      );
      // A free-form value may hold '-', which a database name may not.
      expect(namePatternProblems('Ods_{campusFromRoute}', ['campusFromRoute'], 'postgres').join()).to.match(
        /start with a letter/,
      );
      expect(namePatternProblems('Ods-{schoolYearFromRoute}', ['schoolYearFromRoute'], 'postgres')).not.to.be.empty;
      expect(namePatternProblems('Ods_{schoolYearFromRoute', ['schoolYearFromRoute'], 'postgres')).not.to.be.empty;
    });
  });
});
