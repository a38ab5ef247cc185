import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Logger } from '../../shared/logger';

declare module 'express-serve-static-core' {
  interface Request {
    requestId: string;
    /** The caller's own X-Request-Id, when it is a safe token: kept beside ours, never in its place. */
    clientRequestId?: string;
    log: Logger;
  }
}

const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/**
 * Gives each request an id of our own (a caller could otherwise reuse another request's id
 * and tangle the logs, job rows and audit trail), a logger that stamps it on every line, and
 * one `http.request` line when it ends. A caller's X-Request-Id of a safe form is kept as
 * `clientRequestId` and echoed in X-Client-Request-Id, so callers can still correlate.
 */
export function requestContext(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const offered = req.header('x-request-id');
    req.requestId = randomUUID();
    req.clientRequestId = offered && SAFE_REQUEST_ID.test(offered) ? offered : undefined;
    req.log = logger.child({ requestId: req.requestId });
    res.set('X-Request-Id', req.requestId);
    if (req.clientRequestId) res.set('X-Client-Request-Id', req.clientRequestId);
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      req.log.info('request handled', {
        event: 'http.request',
        method: req.method,
        path: req.path,
        status: res.statusCode,
        durationMs: Number((process.hrtime.bigint() - started) / 1_000_000n),
        clientId: req.principal?.clientId,
        clientRequestId: req.clientRequestId,
      });
    });
    next();
  };
}
