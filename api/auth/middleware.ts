import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { ForbiddenError, UnauthorizedError } from '../../shared/errors';
import type { ClientCheck } from './client-check';
import { Access, grants } from './scopes';
import type { Principal, TokenService } from './tokens';

declare module 'express-serve-static-core' {
  interface Request {
    principal?: Principal;
  }
}

/** Every route behind this needs a valid bearer token whose client is still enabled. */
export function authenticate(tokens: TokenService, clients: ClientCheck): RequestHandler {
  return async (req: Request, res: Response, next: NextFunction) => {
    const token = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (!token) {
      res.set('WWW-Authenticate', 'Bearer');
      throw new UnauthorizedError('A bearer token is required (POST /connect/token).');
    }
    let principal: Principal;
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
