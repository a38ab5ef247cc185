import { Client } from 'pg';
import { startStatementSpan, endWithError } from '../../../shared/tracing/spans';

/**
 * pg's Client with a span for each statement run inside a trace (docs/tracing.md): the one
 * place every statement of the PostgreSQL driver passes, whether through its pool (given this
 * class as its `Client`) or on a session of its own. Outside a trace, or with tracing off, a
 * statement goes straight through.
 */
export class TracedClient extends Client {}

/**
 * A TracedClient that sends `setup` once connected and before it is handed out (the driver's
 * pool is given this class): a statement sent from the pool's 'connect' event would run beside
 * the caller's first one, queued on a client already executing a query, which pg 8 warns about
 * and pg 9 refuses. A setup that fails (an older server refusing the setting) is ignored.
 */
export function clientWithSetup(setup: string): typeof TracedClient {
  return class SetUpClient extends TracedClient {
    override connect(): Promise<Client>;
    override connect(callback: (err: Error | null, client?: Client) => void): void;
    override connect(callback?: (err: Error | null, client?: Client) => void): Promise<Client> | void {
      const ready = super.connect().then(() =>
        this.query(setup).then(
          () => this,
          () => this,
        ),
      );
      if (!callback) return ready;
      ready.then(
        (client) => callback(null, client),
        (err: Error) => callback(err),
      );
    }
  };
}

type Query = (this: Client, ...args: unknown[]) => unknown;
/** pg's own query, looked up at each call: whatever else wraps it (the tests' statement log) stays in the path. */
const untraced = (): Query => Reflect.get(Client.prototype, 'query');

function statementText(config: unknown): string | undefined {
  if (typeof config === 'string') return config;
  if (config && typeof config === 'object' && !('submit' in config)) {
    const text = (config as { text?: unknown }).text;
    return typeof text === 'string' ? text : undefined;
  }
  return undefined;
}

// query() has many shapes (text or config, values, a callback or a promise, a Submittable): one
// wrapper for all of them, since overriding each overload in TypeScript would say no more.
Object.defineProperty(TracedClient.prototype, 'query', {
  configurable: true,
  writable: true,
  value: function (this: Client, ...args: unknown[]): unknown {
    const text = statementText(args[0]);
    const span = text === undefined ? undefined : startStatementSpan('postgresql', text, this.database);
    if (!span) return untraced().apply(this, args);
    const last = args[args.length - 1];
    if (typeof last === 'function') {
      const callback = last as (err: unknown, ...rest: unknown[]) => unknown;
      args[args.length - 1] = (err: unknown, ...rest: unknown[]) => {
        if (err) endWithError(span, err);
        else span.end();
        return callback(err, ...rest);
      };
      return untraced().apply(this, args);
    }
    let result: unknown;
    try {
      result = untraced().apply(this, args);
    } catch (err) {
      endWithError(span, err);
      throw err;
    }
    return (result as Promise<unknown>).then(
      (value) => {
        span.end();
        return value;
      },
      (err: unknown) => {
        endWithError(span, err);
        throw err;
      },
    );
  },
});
