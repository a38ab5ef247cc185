import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * The ODS/API 7's encrypted connection strings (its `Aes256SymmetricStringEncryptionProvider`,
 * keyed by `OdsConnectionStringEncryptionKey`): `base64(IV)|base64(ciphertext)|base64(HMAC)`,
 * AES-256-CBC with PKCS7 padding and a random 16-byte IV, the HMAC being HMAC-SHA256 of the
 * ciphertext under the same 32-byte key. Written here exactly so, or the ODS/API cannot read it.
 */
const KEY_BYTES = 32;
const IV_BYTES = 16;
const HMAC_BYTES = 32;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** The 32-byte key from its base64 form, or null when it is not base64 of exactly 32 bytes. */
export function parseEncryptionKey(base64: string): Buffer | null {
  const text = base64.trim();
  if (!text || !BASE64.test(text)) return null;
  const key = Buffer.from(text, 'base64');
  // Buffer.from ignores what it cannot decode: a round trip tells a real encoding from a lucky one.
  if (key.length !== KEY_BYTES || key.toString('base64') !== text) return null;
  return key;
}

export function encryptConnectionString(plain: string, key: Buffer): string {
  assertKey(key);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-cbc', key, iv);
  const ciphertext = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  const hmac = createHmac('sha256', key).update(ciphertext).digest();
  return [iv, ciphertext, hmac].map((b) => b.toString('base64')).join('|');
}

/** The three parts of a value in the encrypted format, or null for anything else (plain text above all). */
function parts(value: string): { iv: Buffer; ciphertext: Buffer; hmac: Buffer } | null {
  const pieces = value.split('|');
  if (pieces.length !== 3 || pieces.some((p) => !p || !BASE64.test(p))) return null;
  const [iv, ciphertext, hmac] = pieces.map((p) => Buffer.from(p, 'base64')) as [Buffer, Buffer, Buffer];
  if (iv.length !== IV_BYTES || hmac.length !== HMAC_BYTES) return null;
  if (!ciphertext.length || ciphertext.length % 16 !== 0) return null;
  return { iv, ciphertext, hmac };
}

/** Whether `value` has the shape of an encrypted connection string (whatever key made it). */
export function looksEncrypted(value: string): boolean {
  return parts(value) !== null;
}

/** The plain connection string, or null if `value` is not in the format or its HMAC does not verify under `key`. */
export function decryptConnectionString(value: string, key: Buffer): string | null {
  assertKey(key);
  const found = parts(value);
  if (!found) return null;
  const expected = createHmac('sha256', key).update(found.ciphertext).digest();
  if (!timingSafeEqual(expected, found.hmac)) return null;
  try {
    const decipher = createDecipheriv('aes-256-cbc', key, found.iv);
    return Buffer.concat([decipher.update(found.ciphertext), decipher.final()]).toString('utf8');
  } catch {
    // Bad padding under a verified HMAC: written by a different algorithm with our key. Not readable.
    return null;
  }
}

function assertKey(key: Buffer): void {
  if (key.length !== KEY_BYTES) throw new Error(`the encryption key must be ${KEY_BYTES} bytes`);
}
