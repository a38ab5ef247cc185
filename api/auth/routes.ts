import express, { ErrorRequestHandler, Router } from 'express';
import { OAuthError, ServiceUnavailableError } from '../../shared/errors';
import { onlyMethods } from '../http/problems';
import type { ClientStore } from './clients';
import { perAddressLimit, perClientLimit, TokenLimitSettings } from './rate-limits';
import { ALL_SCOPES, parseScopes, SCOPES } from './scopes';
import type { TokenDecisions } from './token-decisions';
import type { TokenService } from './tokens';

declare module 'express-serve-static-core' {
  interface Request {
    /** The token request as read from body and headers (set before the per-client limit runs). */
    tokenRequest?: TokenRequest;
  }
}

interface TokenRequest {
  grantType?: string;
  clientId?: string;
  clientSecret?: string;
  scope?: string;
}

function field(body: unknown, name: string): string | undefined {
  const value = (body as Record<string, unknown> | undefined)?.[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new OAuthError(400, 'invalid_request', `${name} must be a string.`);
  return value;
}

/** Basic credentials are form-encoded (RFC 6749 §2.3.1); a malformed escape is the client's error, not ours. */
function formDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    throw new OAuthError(400, 'invalid_request', 'The HTTP Basic credentials are not correctly form-encoded.');
  }
}

/** Client credentials from the body or from HTTP Basic (RFC 6749 §2.3.1 allows both). */
function readRequest(req: express.Request): TokenRequest {
  const request: TokenRequest = {
    grantType: field(req.body, 'grant_type'),
    clientId: field(req.body, 'client_id'),
    clientSecret: field(req.body, 'client_secret'),
    scope: field(req.body, 'scope'),
  };
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(req.headers.authorization ?? '')?.[1];
  if (basic) {
    const decoded = Buffer.from(basic, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon > 0) {
      request.clientId = formDecode(decoded.slice(0, colon));
      request.clientSecret = formDecode(decoded.slice(colon + 1));
    }
  }
  return request;
}

export function tokenRoutes(deps: {
  clients: ClientStore;
  tokens: TokenService;
  limits: TokenLimitSettings;
  decisions: TokenDecisions;
  bodyLimit: string;
}): Router {
  const router = Router();
  const limits: TokenLimitSettings = {
    ...deps.limits,
    onLimited: (req, limit) =>
      void deps.decisions.refused(req, limit === 'address' ? 'rate_limited_address' : 'rate_limited_client'),
  };
  /** Every refusal passes here once, on its way to the problem handler. */
  const logRefusal: ErrorRequestHandler = async (err, req, _res, next) => {
    const reason =
      err instanceof OAuthError ? err.error : err instanceof ServiceUnavailableError ? 'hashing_busy' : undefined;
    // The refusal stands even if its audit row cannot be written; that failure is logged.
    if (reason) {
      await deps.decisions.refused(req, reason).catch((auditErr: unknown) =>
        req.log.warn('could not record a token refusal', {
          event: 'audit.write_failed',
          error: auditErr instanceof Error ? auditErr.message : String(auditErr),
        }),
      );
    }
    next(err);
  };

  router.post(
    '/connect/token',
    perAddressLimit(limits),
    express.urlencoded({ extended: false, limit: deps.bodyLimit }),
    (req, _res, next) => {
      req.tokenRequest = readRequest(req);
      next();
    },
    perClientLimit(limits, (req) => req.tokenRequest?.clientId),
    async (req, res) => {
      const request = req.tokenRequest!;
      if (request.grantType === undefined) {
        throw new OAuthError(400, 'invalid_request', 'grant_type is required.');
      }
      if (request.grantType !== 'client_credentials') {
        throw new OAuthError(400, 'unsupported_grant_type', 'grant_type must be client_credentials.');
      }
      if (!request.clientId || !request.clientSecret) {
        throw new OAuthError(400, 'invalid_request', 'client_id and client_secret are required.');
      }
      const allowed = await deps.clients.authenticate(request.clientId, request.clientSecret);
      if (!allowed) throw new OAuthError(401, 'invalid_client', 'Unknown client or wrong secret.');
      // A client may always ask for less than it has: full access covers a read-only token.
      const grantable = allowed.includes(SCOPES.fullAccess) ? [...ALL_SCOPES] : allowed;
      const asked = request.scope === undefined ? allowed : parseScopes(request.scope);
      const refused = asked.filter((s) => !grantable.includes(s));
      if (!asked.length || refused.length) {
        throw new OAuthError(400, 'invalid_scope', `This client may ask only for: ${grantable.join(' ')}.`);
      }
      const issued = deps.tokens.issue({ clientId: request.clientId, scopes: asked });
      await deps.decisions.issued(req, request.clientId, issued.scope);
      res.set('Cache-Control', 'no-store').json(issued);
    },
  );
  router.use('/connect/token', logRefusal);
  router.all('/connect/token', onlyMethods('POST'));
  return router;
}
