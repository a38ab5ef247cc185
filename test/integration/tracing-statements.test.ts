import { expect } from 'chai';
import sql from 'mssql';
import { Pool } from 'pg';
import { silentLogger } from '../../shared/logger';
import { startTracing, tracingActive } from '../../shared/tracing/provider';
import { inSpan } from '../../shared/tracing/spans';
import { traceStatements } from '../../worker/engines/mssql/traced-requests';
import { TracedClient } from '../../worker/engines/postgres/traced-client';
import { OtlpReceiver } from '../support/otlp-receiver';
import { freePort } from '../support/processes';
import { POSTGRES_URL } from '../support/settings';

/**
 * The drivers' choke points, in this process: a tracer provider started and removed by the test
 * (as main.ts does), the PostgreSQL statements on the real server, the SQL Server ones against a
 * port nobody listens on (the statement fails, and its span says so).
 */
describe('statement spans of the engine drivers', function () {
  this.timeout(20_000);

  it('are children of the running trace, carry the text, and are not made outside a trace', async () => {
    const receiver = await OtlpReceiver.start();
    const tracing = startTracing(
      { enabled: true, tracesUrl: `${receiver.url}/v1/traces`, serviceName: 'odsim-test', exportDelayMs: 50 },
      silentLogger(),
    );
    const client = new TracedClient({ connectionString: POSTGRES_URL });
    const pool = new Pool({ connectionString: POSTGRES_URL, Client: TracedClient, max: 1 });
    const mssql = traceStatements(
      new sql.ConnectionPool({
        server: '127.0.0.1',
        port: await freePort(),
        user: 'sa',
        password: 'not-a-real-password',
        options: { trustServerCertificate: true },
      }),
      'master',
    );
    try {
      expect(tracingActive()).to.equal(true);
      await client.connect();
      await inSpan('job', {}, async () => {
        await client.query('SELECT 1 AS inside_promise');
        await pool.query('SELECT $1::text AS inside_callback', ['param-value-7d3f']); // pg's pool calls query with a callback
        await mssql
          .request()
          .batch('SELECT 1 AS inside_mssql')
          .catch(() => undefined);
      });
      await client.query('SELECT 2 AS outside');
      await mssql
        .request()
        .batch('SELECT 2 AS outside_mssql')
        .catch(() => undefined);
    } finally {
      await client.end();
      await pool.end();
      await tracing!.shutdown();
      await receiver.stop();
    }
    expect(tracingActive()).to.equal(false);

    const job = receiver.spans.find((s) => s.name === 'job');
    const statements = receiver.spans.filter((s) => s.attributes['db.statement'] !== undefined);
    expect(statements.map((s) => [s.attributes['db.system'], s.attributes['db.statement']])).to.have.deep.members([
      ['postgresql', 'SELECT 1 AS inside_promise'],
      ['postgresql', 'SELECT $1::text AS inside_callback'],
      ['mssql', 'SELECT 1 AS inside_mssql'],
    ]);
    for (const s of statements) expect(s).to.include({ traceId: job!.traceId, parentSpanId: job!.spanId, kind: 3 });
    // Parameter values are never recorded.
    expect(receiver.bodies.join('\n')).to.not.include('param-value-7d3f');
    const failed = statements.find((s) => s.attributes['db.system'] === 'mssql')!;
    expect(failed.attributes).to.include({ 'db.namespace': 'master' });
    expect(failed.statusCode, 'the failed statement’s span is an error').to.equal(2);
    expect(receiver.bodies.join('\n')).to.not.include('not-a-real-password');
  });
});
