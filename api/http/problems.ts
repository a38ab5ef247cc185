import type { ErrorRequestHandler, RequestHandler } from 'express';
import { isPoolWaitTimeout } from '../../shared/database/postgres-errors';
import {
  AppError,
  errorMessage,
  MethodNotAllowedError,
  NotFoundError,
  PayloadTooLargeError,
  ServiceUnavailableError,
  UnsupportedMediaTypeError,
  ValidationError,
} from '../../shared/errors';

export const PROBLEM_JSON = 'application/problem+json';

/** Errors raised by express's body parsers carry a `type`; turn the known ones into our vocabulary. */
function fromBodyParser(err: { type?: string; status?: number }): AppError | undefined {
  switch (err.type) {
    case 'entity.too.large':
      return new PayloadTooLargeError('The request body is larger than this API accepts.');
    case 'entity.parse.failed':
      return new ValidationError('The request body is not valid JSON.');
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new UnsupportedMediaTypeError('The request body encoding is not supported.');
    case 'request.aborted':
    case 'request.size.invalid':
    case 'stream.encoding.set':
    case 'parameters.too.many':
      return new ValidationError('The request body could not be read.');
    default:
      return fromClientError(err);
  }
}

/**
 * Other errors that express and its parsers mark as the client's (status 4xx): a path that is
 * not valid percent-encoding (the router's URIError), a compressed body that does not inflate.
 */
function fromClientError(err: { status?: number }): AppError | undefined {
  if (typeof err.status !== 'number' || err.status < 400 || err.status > 499) return undefined;
  if (err instanceof URIError) return new ValidationError('The request path is not valid percent-encoding.');
  if (err.status === 413) return new PayloadTooLargeError('The request body is larger than this API accepts.');
  if (err.status === 415) return new UnsupportedMediaTypeError('The request body encoding is not supported.');
  return new ValidationError('The request could not be read.');
}

/** The one place where errors become HTTP responses: RFC 9457 problem+json, never a stack or a secret. */
export function problemHandler(
  /** The admin database dialect's: a server it cannot reach is a 503, not a 500. */
  isUnavailable: (err: unknown) => boolean,
): ErrorRequestHandler {
  return (err, req, res, _next) => {
    let problem: AppError | undefined =
      err instanceof AppError ? err : fromBodyParser(err as { type?: string; status?: number });
    if (!problem && isPoolWaitTimeout(err)) {
      // Reachable, but every connection of this process's pool stayed in use for ADMIN_DATABASE_POOL_WAIT_MS.
      problem = new ServiceUnavailableError(
        'The API is too busy to reach its admin database now; try again shortly.',
        1,
      );
    } else if (!problem && isUnavailable(err)) {
      problem = new ServiceUnavailableError('The admin database is unreachable; try again shortly.', 5);
    }
    if (problem?.retryAfterSeconds !== undefined && !res.headersSent)
      res.set('Retry-After', String(problem.retryAfterSeconds));
    if (!problem) {
      req.log?.error('unhandled error', {
        event: 'http.error',
        error: errorMessage(err),
        stack: err instanceof Error ? err.stack : undefined,
      });
    } else if (problem.status >= 500) {
      req.log?.warn('request failed', {
        event: 'http.unavailable',
        error: errorMessage(err),
      });
    }
    const status = problem?.status ?? 500;
    if (res.headersSent) return;
    res
      .status(status)
      .type(PROBLEM_JSON)
      .json({
        type: 'about:blank',
        title: problem?.title ?? 'Internal server error',
        status,
        detail: problem?.message ?? 'An unexpected error occurred; it has been logged.',
        instance: (req.originalUrl.split('?')[0] ?? '').slice(0, 200),
        requestId: req.requestId,
        ...(problem instanceof ValidationError && Object.keys(problem.errors).length ? { errors: problem.errors } : {}),
        ...problem?.extensions,
      });
  };
}

/** For a known path: any other method is a 405 that lists, in `Allow`, the ones it takes. */
export function onlyMethods(...methods: string[]): RequestHandler {
  const allow = [...methods, ...(methods.includes('GET') ? ['HEAD'] : [])].join(', ');
  return (req, res) => {
    res.set('Allow', allow);
    throw new MethodNotAllowedError(`${req.method} is not allowed here; use ${allow}.`);
  };
}

export function notFound(): RequestHandler {
  return (req) => {
    throw new NotFoundError(`No route for ${req.method} ${req.path.slice(0, 200)}.`);
  };
}
