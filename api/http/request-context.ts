import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Logger } from '../../shared/logger';

declare module 'express-serve-static-core' {
  interface Request {
    requestId: string;
    log: Logger;
  }
}

const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/**
 * Gives each request an id (the caller's X-Request-Id when it is a safe token, else a new
 * one), a logger that stamps it on every line, and one `http.request` line when it ends.
 */
export function requestContext(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const offered = req.header('x-request-id');
    req.requestId = offered && SAFE_REQUEST_ID.test(offered) ? offered : randomUUID();
    req.log = logger.child({ requestId: req.requestId });
    res.set('X-Request-Id', req.requestId);
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      req.log.info('request handled', {
        event: 'http.request',
        method: req.method,
        path: req.path,
        status: res.statusCode,
        durationMs: Number((process.hrtime.bigint() - started) / 1_000_000n),
        clientId: req.principal?.clientId,
      });
    });
    next();
  };
}
