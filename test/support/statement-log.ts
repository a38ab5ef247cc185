import { Client } from 'pg';

/** The application_name of the worker's sessions on the ODS server (worker/engines/postgres/driver.ts). */
export const DRIVER_APPLICATION = 'ods-instance-manager-worker';

/**
 * The statements the PostgreSQL driver sends, in order, while recording is on: pg's
 * Client.prototype.query is wrapped, and only sessions carrying the driver's application_name
 * are recorded (not the test's own).
 */
export class StatementLog {
  readonly statements: string[] = [];
  private readonly proto = Client.prototype as unknown as {
    query: (...args: unknown[]) => unknown;
  };
  private readonly original = this.proto.query;

  start(): void {
    const statements = this.statements;
    const original = this.original;
    this.proto.query = function (this: { connectionParameters?: { application_name?: string } }, ...args: unknown[]) {
      const text = typeof args[0] === 'string' ? args[0] : (args[0] as { text?: unknown } | undefined)?.text;
      if (this.connectionParameters?.application_name === DRIVER_APPLICATION && typeof text === 'string')
        statements.push(text);
      return original.apply(this, args);
    };
  }

  stop(): void {
    this.proto.query = this.original;
  }

  clear(): void {
    this.statements.length = 0;
  }

  matching(pattern: RegExp): string[] {
    return this.statements.filter((s) => pattern.test(s));
  }
}
