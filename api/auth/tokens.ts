import { randomUUID } from 'node:crypto';
import { jwtVerify, SignJWT } from 'jose';
import type { ApiConfig } from '../../shared/config';
import { UnauthorizedError } from '../../shared/errors';
import { parseScopes } from './scopes';

export interface Principal {
  clientId: string;
  scopes: string[];
}

export interface IssuedToken {
  access_token: string;
  token_type: 'bearer';
  expires_in: number;
  scope: string;
}

const ALGORITHM = 'HS256';

/** Signs and checks bearer tokens (JWT, HS256). Only HS256 is accepted: `none` and others are refused. */
export class TokenService {
  private readonly key: Uint8Array;

  constructor(signingKey: string, private readonly settings: Omit<ApiConfig['tokens'], 'signingKey' | 'rateLimitPerMinute'>) {
    this.key = new TextEncoder().encode(signingKey);
  }

  async issue(principal: Principal, ttlSeconds = this.settings.ttlSeconds): Promise<IssuedToken> {
    const scope = principal.scopes.join(' ');
    const token = await new SignJWT({ scope })
      .setProtectedHeader({ alg: ALGORITHM, typ: 'JWT' })
      .setSubject(principal.clientId)
      .setIssuer(this.settings.issuer)
      .setAudience(this.settings.audience)
      .setIssuedAt()
      .setJti(randomUUID())
      .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds)
      .sign(this.key);
    return { access_token: token, token_type: 'bearer', expires_in: ttlSeconds, scope };
  }

  async verify(token: string): Promise<Principal> {
    try {
      const { payload } = await jwtVerify(token, this.key, {
        algorithms: [ALGORITHM],
        issuer: this.settings.issuer,
        audience: this.settings.audience,
        requiredClaims: ['exp', 'sub'],
      });
      return { clientId: String(payload.sub), scopes: parseScopes(typeof payload.scope === 'string' ? payload.scope : '') };
    } catch (err) {
      const code = (err as { code?: string }).code;
      throw new UnauthorizedError(code === 'ERR_JWT_EXPIRED' ? 'The access token has expired.' : 'The access token is invalid.');
    }
  }
}
