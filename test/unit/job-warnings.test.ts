import { expect } from 'chai';
import { encodeWarnings } from '../../shared/database/entities/job.entity';

describe('job warnings as stored', () => {
  it('stores nothing for no warnings', () => {
    expect(encodeWarnings([])).to.equal(null);
    expect(encodeWarnings(undefined)).to.equal(null);
  });

  it('keeps short warnings as they are', () => {
    expect(JSON.parse(encodeWarnings(['a', 'b'])!)).to.deep.equal(['a', 'b']);
  });

  it('always fits the 2000-character column and always parses, saying how many were not kept', () => {
    for (const warnings of [
      ['x'.repeat(5000)],
      Array(50).fill('"\\'.repeat(300)),
      Array(300).fill('\u0001'.repeat(100)),
    ]) {
      const stored = encodeWarnings(warnings)!;
      expect(stored.length).to.be.at.most(2000);
      const parsed = JSON.parse(stored) as string[];
      expect(parsed.length).to.be.greaterThan(0);
      if (parsed.length < warnings.length || parsed.at(-1)!.includes('not kept'))
        expect(parsed.at(-1)).to.match(/^\d+ more warnings not kept/);
    }
  });
});
