import 'reflect-metadata';
import { expect } from 'chai';
import { toDto } from '../../api/http/validation';
import { CreateInstanceDto, ListInstancesQuery, UpdateInstanceDto } from '../../api/instances/dto';
import { ValidationError } from '../../shared/errors';

function validationErrorOf(run: () => unknown): ValidationError {
  try {
    run();
  } catch (err) {
    expect(err).to.be.instanceOf(ValidationError);
    return err as ValidationError;
  }
  throw new Error('expected a ValidationError');
}

describe('request bodies become DTOs at the edge', () => {
  describe('creating an instance', () => {
    it('accepts a well-formed body as a typed DTO', () => {
      const dto = toDto(CreateInstanceDto, { instanceName: 'Grand Bend ISD', databaseName: 'EdFi_Ods_GrandBend' });
      expect(dto).to.be.instanceOf(CreateInstanceDto);
      expect(dto).to.deep.include({ instanceName: 'Grand Bend ISD', databaseName: 'EdFi_Ods_GrandBend' });
    });

    it('refuses unknown fields, naming each one', () => {
      const err = validationErrorOf(() =>
        toDto(CreateInstanceDto, {
          instanceName: 'A',
          databaseName: 'B',
          databsaeName: 'typo',
          status: 'Created',
        }),
      );
      expect(err.status).to.equal(400);
      expect(err.errors).to.have.all.keys('databsaeName', 'status');
    });

    it('refuses wrong types with an error per field', () => {
      const err = validationErrorOf(() => toDto(CreateInstanceDto, { instanceName: 42, databaseName: ['EdFi'] }));
      expect(err.errors).to.have.all.keys('instanceName', 'databaseName');
      expect(err.errors.instanceName!.join(' ')).to.match(/string/);
      expect(err.errors.databaseName!.join(' ')).to.match(/string/);
    });

    it('refuses missing required fields', () => {
      const err = validationErrorOf(() => toDto(CreateInstanceDto, {}));
      expect(err.errors).to.have.all.keys('instanceName', 'databaseName');
    });

    it('lists every problem at once', () => {
      const err = validationErrorOf(() =>
        toDto(CreateInstanceDto, { instanceName: '', databaseName: 'x'.repeat(129), extra: 1 }),
      );
      expect(err.errors).to.have.all.keys('instanceName', 'databaseName', 'extra');
    });

    it('refuses a blank or non-printable instance name', () => {
      for (const instanceName of ['   ', 'line\nbreak', 'tab\there', 'nul\u0000', 'sep\u2028']) {
        const err = validationErrorOf(() => toDto(CreateInstanceDto, { instanceName, databaseName: 'EdFi_Ods' }));
        expect(err.errors, JSON.stringify(instanceName)).to.have.key('instanceName');
      }
    });

    it('accepts a printable instance name with spaces and accents', () => {
      expect(
        toDto(CreateInstanceDto, { instanceName: 'École Saint-Benoît 2025', databaseName: 'EdFi_Ods' }).instanceName,
      ).to.equal('École Saint-Benoît 2025');
    });

    it('refuses an instance name of more than 100 characters', () => {
      const err = validationErrorOf(() =>
        toDto(CreateInstanceDto, { instanceName: 'n'.repeat(101), databaseName: 'EdFi_Ods' }),
      );
      expect(err.errors).to.have.key('instanceName');
    });
  });

  describe('what is not a JSON object', () => {
    for (const [what, input] of [
      ['an array', [{ instanceName: 'A', databaseName: 'B' }]],
      ['null', null],
      ['a string', 'text'],
      ['a number', 7],
      ['undefined', undefined],
    ] as const) {
      it(`refuses ${what}`, () => {
        const err = validationErrorOf(() => toDto(CreateInstanceDto, input));
        expect(err.message).to.equal('The request body must be a JSON object.');
      });
    }

    it('names what it was reading in the message', () => {
      const err = validationErrorOf(() => toDto(ListInstancesQuery, 'x', 'query string'));
      expect(err.message).to.equal('The query string must be a JSON object.');
    });
  });

  describe('updating an instance', () => {
    it('accepts either field alone', () => {
      expect(toDto(UpdateInstanceDto, { instanceName: 'New name' })).to.deep.include({ instanceName: 'New name' });
      expect(toDto(UpdateInstanceDto, { databaseName: 'EdFi_Ods_New' })).to.deep.include({
        databaseName: 'EdFi_Ods_New',
      });
    });

    it('refuses unknown fields and wrong types', () => {
      const err = validationErrorOf(() => toDto(UpdateInstanceDto, { databaseName: 5, id: 'x' }));
      expect(err.errors).to.have.all.keys('databaseName', 'id');
    });
  });

  describe('listing instances', () => {
    it('fills in paging defaults and reads numbers from query text', () => {
      expect(toDto(ListInstancesQuery, {})).to.deep.include({ offset: 0, limit: 25 });
      expect(toDto(ListInstancesQuery, { offset: '50', limit: '10' })).to.deep.include({ offset: 50, limit: 10 });
    });

    it('refuses paging outside its bounds and an unknown status', () => {
      const err = validationErrorOf(() =>
        toDto(ListInstancesQuery, { offset: '-1', limit: '501', status: 'Running', includeDeleted: 'yes' }),
      );
      expect(err.errors).to.have.all.keys('offset', 'limit', 'status', 'includeDeleted');
    });

    it('refuses paging that is not a whole number', () => {
      const err = validationErrorOf(() => toDto(ListInstancesQuery, { offset: 'ten', limit: '2.5' }));
      expect(err.errors).to.have.all.keys('offset', 'limit');
    });

    it('accepts a known status filter', () => {
      expect(toDto(ListInstancesQuery, { status: 'PendingCreate' }).status).to.equal('PendingCreate');
    });
  });
});
