import type { RequestHandler } from 'express';
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import {
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_URL_PATH,
  ATTR_URL_SCHEME,
} from '@opentelemetry/semantic-conventions';
import { tracingActive } from '../../shared/tracing/provider';
import { tracer } from '../../shared/tracing/spans';

/** Probes and scrapes, every few seconds from every orchestrator and Prometheus: a trace each would bury the rest. */
const UNTRACED = /^\/(health\/|metrics$)/;

/**
 * A server span per request (docs/tracing.md), continuing the caller's trace when it sends a
 * W3C `traceparent`. A middleware rather than OpenTelemetry's require-hook instrumentation:
 * this process loads express and pg before any hook could patch them. Null while tracing is
 * off, so the app carries nothing. Only the method, path, route and status are recorded:
 * never headers (the bearer token), query strings or bodies.
 */
export function httpTracing(): RequestHandler | null {
  if (!tracingActive()) return null;
  return (req, res, next) => {
    if (UNTRACED.test(req.path)) return next();
    const parent = propagation.extract(ROOT_CONTEXT, req.headers);
    const span = tracer().startSpan(
      req.method,
      {
        kind: SpanKind.SERVER,
        attributes: { [ATTR_HTTP_REQUEST_METHOD]: req.method, [ATTR_URL_PATH]: req.path, [ATTR_URL_SCHEME]: 'http' },
      },
      parent,
    );
    const active = trace.setSpan(parent, span);
    // The body is read, and the response finished, in the stream's own callbacks: bound, they stay in the request's trace.
    context.bind(active, req);
    context.bind(active, res);
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      // Known once routing is done: `POST /admin/instances/:id/retry`, not the id itself.
      const routePath = (req.route as { path?: unknown } | undefined)?.path;
      const route = typeof routePath === 'string' ? `${req.baseUrl}${routePath}` : undefined;
      if (route) {
        span.setAttribute(ATTR_HTTP_ROUTE, route);
        span.updateName(`${req.method} ${route}`);
      }
      span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, res.statusCode);
      if (!res.writableFinished)
        span.setStatus({ code: SpanStatusCode.ERROR, message: 'connection closed before the response was sent' });
      else if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    };
    res.once('finish', end);
    res.once('close', end);
    context.with(active, next);
  };
}
