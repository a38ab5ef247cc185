import { expect } from 'chai';
import { instanceNameKey, instanceNameProblems, normalizeInstanceName } from '../../shared/instances/instance-name';

describe('instance names', () => {
  describe('normalizeInstanceName', () => {
    it('composes to NFC, makes every space separator a plain space, and trims spaces', () => {
      expect(normalizeInstanceName('  Cafe\u0301\u00a0Bend\u3000')).to.equal('Caf\u00e9 Bend');
    });
    it('leaves tabs and line breaks for validation to refuse rather than changing them', () => {
      expect(normalizeInstanceName('tab\there\n')).to.equal('tab\there\n');
    });
  });

  describe('instanceNameProblems', () => {
    for (const [what, char] of [
      ['zero-width space', '\u200b'],
      ['left-to-right mark', '\u200e'],
      ['right-to-left override', '\u202e'],
      ['first-strong isolate', '\u2068'],
      ['byte-order mark', '\ufeff'],
      ['soft hyphen', '\u00ad'],
      ['word joiner', '\u2060'],
      ['Hangul filler', '\u3164'],
      ['braille blank', '\u2800'],
    ] as const) {
      it(`refuses a ${what}, naming its code point`, () => {
        const problems = instanceNameProblems(`Grand${char}Bend`);
        expect(problems).to.have.length(1);
        expect(problems[0]).to.contain(`U+${char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`);
      });
    }
    it('allows the joiners that emoji and some scripts need', () => {
      expect(instanceNameProblems('Team \u{1f469}\u200d\u{1f4bb}')).to.deep.equal([]);
      expect(instanceNameProblems('\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645')).to.deep.equal([]);
    });
    it('refuses Latin mixed with Cyrillic or Greek inside one word', () => {
      expect(instanceNameProblems('Gr\u0430nd Bend')[0]).to.match(/Latin and Cyrillic/);
      expect(instanceNameProblems('Grand B\u03b5nd')[0]).to.match(/Latin and Greek/);
    });
    it('accepts words in different scripts side by side, and names in one non-Latin script', () => {
      expect(instanceNameProblems('\u0428\u043a\u043e\u043b\u0430 5 School')).to.deep.equal([]);
      expect(instanceNameProblems('\u6771\u4eac 2024')).to.deep.equal([]);
    });
  });

  describe('instanceNameKey', () => {
    const same: [string, string][] = [
      ['Grand Bend', 'GRAND BEND'],
      ['Grand Bend', 'Grand\u00a0Bend'],
      ['Grand Bend', 'Grand   Bend'],
      ['Grand Bend', '\uff27\uff52\uff41\uff4e\uff44 Bend'],
      ['Caf\u00e9', 'Cafe\u0301'],
      ['ACE', '\u0410\u0421\u0415'],
      ['Grand Bend', 'Grand\u200dBend'.replace('\u200d', '\u200d ')],
    ];
    for (const [a, b] of same) {
      it(`folds ${JSON.stringify(b)} to the key of ${JSON.stringify(a)}`, () => {
        expect(instanceNameKey(normalizeInstanceName(b))).to.equal(instanceNameKey(normalizeInstanceName(a)));
      });
    }
    it('keeps names that differ in letters apart, accents included', () => {
      expect(instanceNameKey('Caf\u00e9')).not.to.equal(instanceNameKey('Cafe'));
      expect(instanceNameKey('Grand Bend 2023')).not.to.equal(instanceNameKey('Grand Bend 2024'));
    });
  });
});
