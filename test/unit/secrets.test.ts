import { expect } from 'chai';
import { generateSecret, hashSecret, verifySecret } from '../../api/auth/secrets';

describe('client secrets', () => {
  const secret = 'correct horse battery staple';
  let stored: string;
  before(async () => {
    stored = await hashSecret(secret);
  });

  it('verifies the secret it hashed', async () => {
    expect(await verifySecret(secret, stored)).to.equal(true);
  });

  it('refuses a wrong secret, including one that differs by a letter or by case', async () => {
    for (const wrong of [
      'correct horse battery stapler',
      'Correct horse battery staple',
      '',
      'correct horse battery stapl',
    ]) {
      expect(await verifySecret(wrong, stored), wrong).to.equal(false);
    }
  });

  it('stores scrypt with its parameters, a salt and a hash, and not the secret', async () => {
    const parts = stored.split('$');
    expect(parts).to.have.lengthOf(6);
    expect(parts[0]).to.equal('scrypt');
    expect(parts.slice(1, 4).map(Number)).to.deep.equal([16384, 8, 1]);
    expect(Buffer.from(parts[4]!, 'base64url')).to.have.lengthOf(16);
    expect(Buffer.from(parts[5]!, 'base64url')).to.have.lengthOf(32);
    expect(stored).not.to.include(secret);
    expect(stored).not.to.include(Buffer.from(secret).toString('base64url'));
    expect(stored).not.to.include(Buffer.from(secret).toString('hex'));
  });

  it('salts each hash, so two hashes of one secret differ and both verify', async () => {
    const again = await hashSecret(secret);
    expect(again).not.to.equal(stored);
    expect(again.split('$')[4]).not.to.equal(stored.split('$')[4]);
    expect(await verifySecret(secret, again)).to.equal(true);
  });

  it('generates distinct, URL-safe secrets of 32 random bytes', () => {
    const a = generateSecret();
    const b = generateSecret();
    expect(a).not.to.equal(b);
    expect(a).to.match(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(a, 'base64url')).to.have.lengthOf(32);
  });

  describe('malformed stored hashes', () => {
    const cases = (): Record<string, string> => {
      const [, n, r, p, salt, hash] = stored.split('$');
      if (hash === undefined) throw new Error('the stored hash has no hash part');
      return {
        'an empty string': '',
        'plain text': 'not a hash',
        'the secret itself': secret,
        'another algorithm': ['bcrypt', n, r, p, salt, hash].join('$'),
        'missing salt and hash': 'scrypt$16384$8$1',
        'an empty salt': ['scrypt', n, r, p, '', hash].join('$'),
        'an empty hash': ['scrypt', n, r, p, salt, ''].join('$'),
        'a hash that decodes to no bytes': ['scrypt', n, r, p, salt, '!!!'].join('$'),
        'a truncated hash': ['scrypt', n, r, p, salt, hash.slice(0, 10)].join('$'),
        'another salt': ['scrypt', n, r, p, 'AAAAAAAAAAAAAAAAAAAAAA', hash].join('$'),
      };
    };

    it('refuses the right secret against each of them', async () => {
      const accepted: string[] = [];
      for (const [what, bad] of Object.entries(cases())) {
        if (await verifySecret(secret, bad).catch(() => false)) accepted.push(what);
      }
      expect(accepted, 'malformed hashes that verified').to.deep.equal([]);
    });

    it('answers false rather than throwing on non-numeric cost parameters', async () => {
      const [, , r, p, salt, hash] = stored.split('$');
      let outcome: unknown;
      try {
        outcome = await verifySecret(secret, ['scrypt', 'abc', r, p, salt, hash].join('$'));
      } catch (err) {
        outcome = `threw: ${(err as Error).message}`;
      }
      expect(outcome).to.equal(false);
    });
  });
});
