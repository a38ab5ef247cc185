import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { ForbiddenError, UnauthorizedError } from '../../shared/errors';
import { readCookie } from '../http/cookies';
import type { ClientCheck } from './client-check';
import { Access, grants } from './scopes';
import type { TokenService, VerifiedPrincipal } from './tokens';

declare module 'express-serve-static-core' {
  interface Request {
    principal?: VerifiedPrincipal;
    /** Where the token came from: the Authorization header, or the queue dashboard's cookie. */
    authenticatedBy?: 'bearer' | 'cookie';
  }
}

export interface AuthenticateOptions {
  /**
   * Also take the token from this cookie when no Authorization header is sent (the queue
   * dashboard's session, api/dashboard/routes.ts). A header, when sent, is the only source.
   */
  cookie?: string;
}

/**
 * Checks the request's token (signature, expiry, deployment) and that its client is still
 * enabled; sets `req.principal` and `req.authenticatedBy`, or throws UnauthorizedError.
 */
export async function authenticateRequest(
  req: Request,
  res: Response,
  tokens: TokenService,
  clients: ClientCheck,
  options: AuthenticateOptions = {},
): Promise<void> {
  const header = req.headers.authorization;
  const fromCookie = header === undefined && options.cookie ? readCookie(req, options.cookie) : undefined;
  const token = fromCookie ?? /^Bearer\s+(\S+)$/i.exec(header ?? '')?.[1];
  if (!token) {
    res.set('WWW-Authenticate', 'Bearer');
    throw new UnauthorizedError('A bearer token is required (POST /connect/token).');
  }
  let principal: VerifiedPrincipal;
  try {
    principal = tokens.verify(token);
  } catch (err) {
    res.set('WWW-Authenticate', 'Bearer error="invalid_token"');
    throw err;
  }
  if (!(await clients.isActive(principal.clientId))) {
    res.set('WWW-Authenticate', 'Bearer error="invalid_token"');
    throw new UnauthorizedError("The access token's client is disabled or no longer exists.");
  }
  req.principal = principal;
  req.authenticatedBy = fromCookie ? 'cookie' : 'bearer';
}

/** Every route behind this needs a valid bearer token whose client is still enabled. */
export function authenticate(
  tokens: TokenService,
  clients: ClientCheck,
  options: AuthenticateOptions = {},
): RequestHandler {
  return async (req: Request, res: Response, next: NextFunction) => {
    await authenticateRequest(req, res, tokens, clients, options);
    next();
  };
}

/** Full-access callers see the server's own error text; others a summary (api/jobs/representation.ts). */
export function errorDetail(req: Request): 'full' | 'summary' {
  return req.principal && grants(req.principal.scopes, 'write') ? 'full' : 'summary';
}

export function requireAccess(access: Access): RequestHandler {
  return (req, res, next) => {
    if (!req.principal || !grants(req.principal.scopes, access)) {
      res.set('WWW-Authenticate', 'Bearer error="insufficient_scope"');
      throw new ForbiddenError(
        `This operation needs the ${access === 'write' ? 'full_access' : 'read_only or full_access'} scope.`,
      );
    }
    next();
  };
}
