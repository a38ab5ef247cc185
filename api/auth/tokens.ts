import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import type { ApiConfig } from '../../shared/config';
import { UnauthorizedError } from '../../shared/errors';
import { parseScopes } from './scopes';

export interface Principal {
  clientId: string;
  scopes: string[];
}

/** A principal read from a valid token, with when that token expires (seconds since the epoch). */
export interface VerifiedPrincipal extends Principal {
  expiresAt: number;
}

export interface IssuedToken {
  access_token: string;
  token_type: 'bearer';
  expires_in: number;
  scope: string;
}

export type TokenSettings = Pick<ApiConfig['tokens'], 'issuer' | 'audience' | 'ttlSeconds'> & {
  /** Tokens carry it and must carry it back: another deployment's token is refused even if it shares the key. */
  deploymentId: string;
};

/** The claim that names the deployment a token was issued by. */
export const DEPLOYMENT_CLAIM = 'deployment_id';

/** Exactly the header we issue. Anything else (other alg, crit, jku, jwk, kid, x5u, b64...) is refused. */
const HEADER = { alg: 'HS256', typ: 'JWT' } as const;
/** Far above any token we issue; bounds the work done on garbage before it is refused. */
const MAX_TOKEN_LENGTH = 4096;
/** Clock skew allowed between API processes for nbf and iat; exp gets none, as jose gave none. */
const SKEW_SECONDS = 60;
const BASE64URL = /^[A-Za-z0-9_-]*$/;

const encode = (value: unknown) => Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');

/** A JSON object from a base64url part, or undefined: arrays, other values and bad encodings are not. */
function decodeObject(part: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

const isNumericDate = (value: unknown): value is number =>
  typeof value === 'number' && Number.isFinite(value) && value >= 0;

/**
 * Signs and checks bearer tokens: JWT, HS256 only, with node:crypto's synchronous HMAC.
 * Synchronous on purpose: WebCrypto (what jose uses) runs HMAC on libuv's thread pool, where
 * every token request's scrypt also runs, so a flood of wrong secrets made each authenticated
 * request wait behind it. An HMAC of a few hundred bytes costs microseconds on the main thread.
 */
export class TokenService {
  private readonly key: Buffer;

  constructor(
    signingKey: string,
    private readonly settings: TokenSettings,
  ) {
    this.key = Buffer.from(signingKey, 'utf8');
  }

  issue(principal: Principal, ttlSeconds = this.settings.ttlSeconds): IssuedToken {
    const scope = principal.scopes.join(' ');
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      scope,
      sub: principal.clientId,
      iss: this.settings.issuer,
      aud: this.settings.audience,
      iat: now,
      jti: randomUUID(),
      exp: now + ttlSeconds,
      [DEPLOYMENT_CLAIM]: this.settings.deploymentId,
    };
    const signingInput = `${encode(HEADER)}.${encode(claims)}`;
    return {
      access_token: `${signingInput}.${this.sign(signingInput).toString('base64url')}`,
      token_type: 'bearer',
      expires_in: ttlSeconds,
      scope,
    };
  }

  /** The principal of a token we issued, still valid, for this deployment; else UnauthorizedError. */
  verify(token: string): VerifiedPrincipal {
    const invalid = () => new UnauthorizedError('The access token is invalid.');
    if (token.length > MAX_TOKEN_LENGTH) throw invalid();
    const parts = token.split('.');
    if (parts.length !== 3 || !parts.every((p) => BASE64URL.test(p))) throw invalid();
    // Three parts, as just checked.
    const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];

    const header = decodeObject(headerPart);
    if (!header || header.alg !== HEADER.alg || !Object.keys(header).every((k) => Object.hasOwn(HEADER, k)))
      throw invalid();
    if ('typ' in header && header.typ !== HEADER.typ) throw invalid();

    // The signature first: nothing in the payload is read before it is known to be ours.
    const signature = Buffer.from(signaturePart, 'base64url');
    const expected = this.sign(`${headerPart}.${payloadPart}`);
    // Re-encoding catches a signature that decodes to the right bytes from other text (padding bits).
    if (
      signature.length !== expected.length ||
      !timingSafeEqual(signature, expected) ||
      signature.toString('base64url') !== signaturePart
    )
      throw invalid();

    const claims = decodeObject(payloadPart);
    if (!claims) throw invalid();
    const now = Math.floor(Date.now() / 1000);
    if (!isNumericDate(claims.exp)) throw invalid();
    if (claims.nbf !== undefined && (!isNumericDate(claims.nbf) || claims.nbf > now + SKEW_SECONDS)) throw invalid();
    if (claims.iat !== undefined && (!isNumericDate(claims.iat) || claims.iat > now + SKEW_SECONDS)) throw invalid();
    if (claims.iss !== this.settings.issuer || claims.aud !== this.settings.audience) throw invalid();
    if (claims[DEPLOYMENT_CLAIM] !== this.settings.deploymentId) throw invalid();
    if (typeof claims.sub !== 'string' || !claims.sub) throw invalid();
    const scope = claims.scope ?? '';
    if (typeof scope !== 'string') throw invalid();
    if (now >= claims.exp) throw new UnauthorizedError('The access token has expired.');
    return { clientId: claims.sub, scopes: parseScopes(scope), expiresAt: claims.exp };
  }

  private sign(signingInput: string): Buffer {
    return createHmac('sha256', this.key).update(signingInput, 'ascii').digest();
  }
}
