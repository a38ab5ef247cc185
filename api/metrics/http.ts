import type { RequestHandler } from 'express';
import { Histogram, type Registry } from 'prom-client';

/** The route label of a request no route answered (a 404, a refusal before routing, a static file). */
export const UNMATCHED_ROUTE = 'unmatched';

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/**
 * The Express route pattern that answered (`/admin/instances/:id`), never the URL itself: a label
 * per instance id or query string would grow without bound.
 */
export function routeLabel(req: { baseUrl?: string; route?: { path?: unknown } }): string {
  const path = req.route?.path;
  if (typeof path !== 'string') return UNMATCHED_ROUTE;
  return `${req.baseUrl ?? ''}${path}` || '/';
}

/** Known methods as sent, any other as OTHER (Node accepts a few dozen). */
export function methodLabel(method: string): string {
  return METHODS.has(method) ? method : 'OTHER';
}

export function requestDurationHistogram(registry: Registry): Histogram<'method' | 'route' | 'status'> {
  return new Histogram({
    name: 'odsim_http_request_duration_seconds',
    help: 'HTTP requests the API answered, by method, route pattern (unmatched for none) and status code; _count is the request count.',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
}

/** Times each response from the first byte read to the last written (or the connection closing). */
export function requestMetrics(histogram: Histogram<'method' | 'route' | 'status'>): RequestHandler {
  return (req, res, next) => {
    const end = histogram.startTimer();
    let done = false;
    const record = () => {
      if (done) return;
      done = true;
      end({ method: methodLabel(req.method), route: routeLabel(req), status: String(res.statusCode) });
    };
    res.once('finish', record);
    res.once('close', record);
    next();
  };
}
