import { context, SpanKind, SpanStatusCode, trace, type Attributes, type Span, type Tracer } from '@opentelemetry/api';
import { errorMessage } from '../errors';
import { redactSecrets } from '../logger';

/** The name of this code base's tracers (the HTTP middleware, the job steps, the SQL statements). */
export const TRACER_NAME = 'ods-instance-manager';

/**
 * Asked for each time rather than kept: a tracer kept from before the provider was registered
 * (or after it was removed) would keep pointing at the old one.
 */
export function tracer(): Tracer {
  return trace.getTracer(TRACER_NAME);
}

/** Marks the span failed with the error's name and message (credentials masked, no stack), and ends it. */
export function endWithError(span: Span, err: unknown): void {
  const message = redactSecrets(errorMessage(err));
  span.recordException({ name: err instanceof Error ? err.name : 'Error', message });
  span.setStatus({ code: SpanStatusCode.ERROR, message });
  span.end();
}

/** Runs `work` in a span, child of the active one; while tracing is off this is the no-op API's. */
export async function inSpan<T>(name: string, attributes: Attributes, work: (span: Span) => Promise<T>): Promise<T> {
  return tracer().startActiveSpan(name, { attributes }, async (span) => {
    try {
      const result = await work(span);
      span.end();
      return result;
    } catch (err) {
      endWithError(span, err);
      throw err;
    }
  });
}

export type DatabaseSystem = 'postgresql' | 'mssql';

/** Statement text longer than this is cut: a span attribute is no place for a script. */
const MAX_STATEMENT = 4000;

/** `CREATE DATABASE`, `SELECT`, `ALTER DATABASE`: the statement's verb, and its object for DDL. */
export function statementSummary(text: string): string {
  const words = text
    .replace(/--[^\n]*\n/g, ' ')
    .trim()
    .split(/\s+/, 2)
    .map((w) => w.toUpperCase());
  const [verb = '', object = ''] = words;
  return ['CREATE', 'DROP', 'ALTER', 'COMMENT'].includes(verb) && /^[A-Z]+$/.test(object) ? `${verb} ${object}` : verb;
}

/**
 * A span for one statement sent to the ODS server, or undefined outside a trace: statements run
 * for a job belong to its trace, while the inventory's and start-up's would each be a trace of
 * one span. Only the text is kept (database names, markers): never the parameters' values.
 */
export function startStatementSpan(system: DatabaseSystem, text: string, database?: string): Span | undefined {
  const parent = trace.getSpan(context.active());
  if (!parent?.isRecording()) return undefined;
  return tracer().startSpan(statementSummary(text) || system, {
    kind: SpanKind.CLIENT,
    attributes: {
      'db.system': system,
      'db.statement': text.length > MAX_STATEMENT ? `${text.slice(0, MAX_STATEMENT)}…` : text,
      ...(database ? { 'db.namespace': database } : {}),
    },
  });
}

/** Runs one statement in its span (when there is one). */
export async function inStatementSpan<T>(
  system: DatabaseSystem,
  text: string,
  database: string | undefined,
  run: () => Promise<T>,
): Promise<T> {
  const span = startStatementSpan(system, text, database);
  if (!span) return run();
  try {
    const result = await run();
    span.end();
    return result;
  } catch (err) {
    endWithError(span, err);
    throw err;
  }
}
