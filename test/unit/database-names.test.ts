import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import {
  ENGINES,
  nameKey,
  nameRulesFor,
  reservedNameSet,
  STAGING_PREFIX,
  stagingDatabaseName,
} from '../../shared/database-names';
import * as postgres from '../../worker/engines/postgres/names';

const rules = nameRulesFor('postgres');
const reserved = reservedNameSet('postgres', ['EdFi_Admin', 'EdFi_Security', 'ods_instance_manager']);
const problemsWith = (name: string) => rules.validate(name, reserved);

describe('database names', () => {
  it('has PostgreSQL rules for every engine the product lists', () => {
    expect(ENGINES).to.include('postgres');
    for (const engine of ENGINES) expect(nameRulesFor(engine)).to.be.an('object');
    expect(rules.maxLength).to.equal(63);
  });

  describe('accepted shapes on PostgreSQL', () => {
    for (const name of ['EdFi_Ods_2025', 'a', 'Z9', 'grand_bend_isd', 'x_', 'EdFi_Ods_Sandbox_ABC123']) {
      it(`accepts ${name}`, () => {
        expect(problemsWith(name)).to.deep.equal([]);
        expect(rules.quote(name)).to.equal(`"${name}"`);
      });
    }

    it('accepts a name of exactly 63 bytes', () => {
      const name = 'a'.repeat(63);
      expect(problemsWith(name)).to.deep.equal([]);
      expect(rules.quote(name)).to.equal(`"${name}"`);
    });
  });

  describe('refused shapes on PostgreSQL', () => {
    const refused: Record<string, string> = {
      'a leading digit': '1EdFi',
      'a leading underscore': '_EdFi',
      'a hyphen': 'EdFi-Ods',
      'a space': 'EdFi Ods',
      'a double quote': 'EdFi"Ods',
      'a single quote': "EdFi'Ods",
      'a closing quote and statement': 'x"; DROP DATABASE postgres; --',
      'a dot': 'EdFi.Ods',
      'a dollar sign': 'EdFi$Ods',
      'a Cyrillic look-alike a': 'EdFi_Od\u0430',
      'a Greek look-alike O': '\u039fds',
      'a full-width letter': '\uff25dFi',
      'an accented letter': 'Éducation',
      'a zero-width space': 'EdFi\u200bOds',
      'a trailing newline': 'EdFi\n',
      'a NUL character': 'EdFi\u0000',
      'the empty string': '',
    };
    for (const [what, name] of Object.entries(refused)) {
      it(`refuses a name with ${what}`, () => {
        expect(problemsWith(name)).to.have.length.greaterThan(0);
        expect(() => rules.quote(name)).to.throw(/refusing to quote/);
      });
    }

    it('refuses a name of 64 bytes and says how long it was', () => {
      const name = 'a'.repeat(64);
      const problems = problemsWith(name);
      expect(problems).to.have.lengthOf(1);
      expect(problems[0])
        .to.match(/at most 63 bytes/)
        .and.match(/got 64/);
      expect(() => rules.quote(name)).to.throw();
    });

    it('counts bytes, not characters, when a multi-byte character is present', () => {
      // 62 ASCII letters + one 2-byte character: 63 characters, 64 bytes.
      const problems = problemsWith('a'.repeat(62) + 'é');
      expect(problems.some((p) => /got 64/.test(p))).to.equal(true);
    });

    it('does not echo the refused name when refusing to quote it', () => {
      const name = 'evil"; DROP DATABASE x; --';
      expect(() => rules.quote(name))
        .to.throw()
        .that.satisfies((e: Error) => !e.message.includes('DROP'));
    });
  });

  describe('reserved names', () => {
    for (const system of [
      'postgres',
      'template0',
      'template1',
      'rdsadmin',
      'azure_maintenance',
      'azure_sys',
      'cloudsqladmin',
    ]) {
      it(`refuses the system database ${system} in any letter case`, () => {
        expect(rules.systemDatabases).to.include(system);
        for (const variant of [system, system.toUpperCase(), system[0]!.toUpperCase() + system.slice(1)]) {
          const problems = problemsWith(variant);
          expect(problems, variant).to.have.lengthOf(1);
          expect(problems[0]).to.match(/reserved/);
        }
      });
    }

    it("refuses the deployment's extra reserved names in any letter case", () => {
      for (const name of ['EdFi_Admin', 'edfi_admin', 'EDFI_SECURITY', 'Ods_Instance_Manager']) {
        expect(problemsWith(name), name).to.satisfy((ps: string[]) => ps.some((p) => /reserved/.test(p)));
      }
    });

    it('builds the reserved set in lower case from the system databases and the extras', () => {
      const set = reservedNameSet('postgres', ['EdFi_Admin']);
      expect([...set]).to.include.members([
        'postgres',
        'template0',
        'template1',
        'rdsadmin',
        'azure_maintenance',
        'cloudsqladmin',
        'edfi_admin',
      ]);
      expect([...set].every((n) => n === n.toLowerCase())).to.equal(true);
    });

    it('does not treat a name that merely contains a reserved one as reserved', () => {
      expect(problemsWith('postgres_ods')).to.deep.equal([]);
      expect(problemsWith('EdFi_Admin2')).to.deep.equal([]);
    });
  });

  describe('the staging prefix', () => {
    it('is refused at the start of a requested name, in any letter case', () => {
      for (const name of [`${STAGING_PREFIX}abc`, `${STAGING_PREFIX.toUpperCase()}ABC`, 'Odsim_Staging_x']) {
        const problems = problemsWith(name);
        expect(problems, name).to.have.lengthOf(1);
        expect(problems[0]).to.include(STAGING_PREFIX);
      }
    });

    it('is allowed elsewhere in a name', () => {
      expect(problemsWith(`my_${STAGING_PREFIX}db`)).to.deep.equal([]);
    });

    it("names a job's staging database from the prefix and the job id without hyphens", () => {
      const name = stagingDatabaseName('0b7c1a2e-1111-4222-8333-944455556666');
      expect(name).to.equal(`${STAGING_PREFIX}0b7c1a2e111142228333944455556666`);
    });

    it('keeps a staging name for a uuid job id within 63 bytes and quotable', () => {
      for (let i = 0; i < 20; i++) {
        const name = stagingDatabaseName(randomUUID());
        expect(Buffer.byteLength(name, 'utf8')).to.be.at.most(63);
        expect(name.startsWith(STAGING_PREFIX)).to.equal(true);
        expect(rules.quote(name)).to.equal(`"${name}"`);
      }
    });
  });

  describe('quoting', () => {
    it('wraps a valid name in double quotes and nothing else', () => {
      expect(postgres.quote('EdFi_Ods')).to.equal('"EdFi_Ods"');
    });

    it('refuses to quote a name that would need escaping, so no statement can be injected through it', () => {
      for (const name of ['a"b', 'a""b', '"', 'a;b', 'a\\b', "a'b", 'a b']) {
        expect(() => postgres.quote(name), name).to.throw();
      }
    });

    it('refuses to quote a 64-byte name that PostgreSQL would silently truncate', () => {
      expect(() => postgres.quote('a'.repeat(64))).to.throw();
    });
  });

  describe('name keys', () => {
    it('treats names that differ only in letter case as the same', () => {
      expect(nameKey('EdFi_Ods_A')).to.equal(nameKey('edfi_ods_a'));
      expect(nameKey('EDFI_ODS_A')).to.equal('edfi_ods_a');
    });

    it('keeps names that differ otherwise apart', () => {
      expect(nameKey('EdFi_Ods_A')).not.to.equal(nameKey('EdFi_Ods_B'));
    });
  });
});
