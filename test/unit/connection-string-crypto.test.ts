import { expect } from 'chai';
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import {
  decryptConnectionString,
  encryptConnectionString,
  looksEncrypted,
  parseEncryptionKey,
} from '../../worker/edfi-admin/connection-string-crypto';

const KEY = randomBytes(32);
const PLAIN = 'host=db.example;port=5432;username=ods_app;password=pä55;database=EdFi_Ods_2025';

/** The ODS/API's format, written out step by step apart from the module under test. */
function independentlyEncrypted(plain: string, key: Buffer): string {
  const iv = randomBytes(16);
  const cipher = createCipheriv('aes-256-cbc', key, iv);
  cipher.setAutoPadding(true); // PKCS7
  const ciphertext = Buffer.concat([cipher.update(Buffer.from(plain, 'utf8')), cipher.final()]);
  const hmac = createHmac('sha256', key).update(ciphertext).digest();
  return `${iv.toString('base64')}|${ciphertext.toString('base64')}|${hmac.toString('base64')}`;
}

function independentlyDecrypted(value: string, key: Buffer): string {
  const [iv, ciphertext, hmac] = value.split('|').map((p) => Buffer.from(p, 'base64')) as [Buffer, Buffer, Buffer];
  expect(createHmac('sha256', key).update(ciphertext).digest().equals(hmac), 'HMAC').to.equal(true);
  const decipher = createDecipheriv('aes-256-cbc', key, iv);
  return Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString('utf8');
}

/** Replaces one '|'-separated part, keeping its length (a flipped bit in the middle of it). */
function tampered(value: string, part: 0 | 1 | 2): string {
  const pieces = value.split('|');
  const bytes = Buffer.from(pieces[part]!, 'base64');
  bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
  pieces[part] = bytes.toString('base64');
  return pieces.join('|');
}

describe('EdFi_Admin connection-string encryption (the ODS/API format)', () => {
  it('round-trips a connection string', () => {
    const value = encryptConnectionString(PLAIN, KEY);
    expect(decryptConnectionString(value, KEY)).to.equal(PLAIN);
  });

  it('writes base64(IV)|base64(ciphertext)|base64(HMAC) with a fresh 16-byte IV each time', () => {
    const a = encryptConnectionString(PLAIN, KEY);
    const b = encryptConnectionString(PLAIN, KEY);
    expect(a).not.to.equal(b);
    const [iv, ciphertext, hmac] = a.split('|').map((p) => Buffer.from(p, 'base64'));
    expect(iv).to.have.lengthOf(16);
    expect(ciphertext!.length % 16).to.equal(0);
    expect(hmac).to.have.lengthOf(32);
    expect(looksEncrypted(a)).to.equal(true);
  });

  it('writes what an independent implementation of the format decrypts', () => {
    expect(independentlyDecrypted(encryptConnectionString(PLAIN, KEY), KEY)).to.equal(PLAIN);
  });

  it('decrypts what an independent implementation of the format wrote', () => {
    expect(decryptConnectionString(independentlyEncrypted(PLAIN, KEY), KEY)).to.equal(PLAIN);
    // A plain text of exactly one block gets a whole block of padding (PKCS7).
    expect(decryptConnectionString(independentlyEncrypted('x'.repeat(16), KEY), KEY)).to.equal('x'.repeat(16));
    expect(decryptConnectionString(independentlyEncrypted('', KEY), KEY)).to.equal('');
  });

  it('refuses a tampered IV, ciphertext or HMAC', () => {
    const value = encryptConnectionString(PLAIN, KEY);
    // A changed IV leaves the HMAC valid (it covers the ciphertext only, as the ODS/API's does) but garbles the first block.
    expect(decryptConnectionString(tampered(value, 0), KEY)).not.to.equal(PLAIN);
    expect(decryptConnectionString(tampered(value, 1), KEY)).to.equal(null);
    expect(decryptConnectionString(tampered(value, 2), KEY)).to.equal(null);
  });

  it('refuses a value encrypted under another key', () => {
    expect(decryptConnectionString(encryptConnectionString(PLAIN, randomBytes(32)), KEY)).to.equal(null);
  });

  it('refuses plain text and anything not in the format, without throwing', () => {
    const value = encryptConnectionString(PLAIN, KEY);
    const [iv, ct, mac] = value.split('|');
    for (const bad of [
      PLAIN,
      '',
      '||',
      `${iv}|${ct}`,
      `${iv}|${ct}|${mac}|`,
      `${iv}|${ct}|not base64!`,
      `${iv}|${ct!.slice(0, 8)}|${mac}`,
      `AAAA|${ct}|${mac}`,
    ]) {
      expect(decryptConnectionString(bad, KEY), bad).to.equal(null);
    }
    expect(looksEncrypted(PLAIN)).to.equal(false);
  });

  it('takes a key only as base64 of exactly 32 bytes', () => {
    const key = randomBytes(32);
    expect(parseEncryptionKey(key.toString('base64'))!.equals(key)).to.equal(true);
    for (const bad of [
      '',
      randomBytes(16).toString('base64'),
      randomBytes(33).toString('base64'),
      'k'.repeat(44),
      '!'.repeat(44),
    ])
      expect(parseEncryptionKey(bad), bad).to.equal(null);
  });
});
