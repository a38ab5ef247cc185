import type sql from 'mssql';
import { inStatementSpan } from '../../../shared/tracing/spans';

type Run = (...args: unknown[]) => unknown;

/**
 * Every request of `pool` with a span for each statement run inside a trace (docs/tracing.md):
 * the SQL Server driver's pools and sessions all pass here, so no statement is left out.
 * Only a statement given as text is traced (the driver's form); a callback or a tagged
 * template goes straight through, as does everything outside a trace or with tracing off.
 */
export function traceStatements(pool: sql.ConnectionPool, database: string | undefined): sql.ConnectionPool {
  const request = pool.request.bind(pool);
  pool.request = () => {
    const r = request();
    for (const method of ['batch', 'query'] as const) {
      const run = (r[method] as Run).bind(r);
      const traced: Run = (...args) =>
        args.length === 1 && typeof args[0] === 'string'
          ? inStatementSpan('mssql', args[0], database, () => run(...args) as Promise<unknown>)
          : run(...args);
      Object.defineProperty(r, method, { value: traced, configurable: true, writable: true });
    }
    return r;
  };
  return pool;
}
