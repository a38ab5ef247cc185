import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { ApiProcess, WorkerProcess } from '../support/processes';
import { OtlpReceiver, type ReceivedSpan } from '../support/otlp-receiver';
import { EDFI_TEMPLATE, POSTGRES_URL } from '../support/settings';
import { Stack, startStack } from '../support/stack';
import { waitFor } from '../support/wait';

/** OTLP's SpanKind numbers. */
const SERVER = 2;
const CLIENT = 3;
const PRODUCER = 4;
const CONSUMER = 5;

/**
 * The API and a worker as separate processes, both sending OTLP/HTTP JSON to a receiver of the
 * test's own. The processes are stopped with SIGTERM before the spans are read: their shutdown
 * flushes what is buffered, so what has not arrived by then was never going to.
 */
describe('tracing (OpenTelemetry, OTLP/HTTP)', function () {
  this.timeout(90_000);
  let stack: Stack;
  let receiver: OtlpReceiver;
  // The test server trusts local connections: a password in the URL is sent nowhere but must show up nowhere either.
  const odsUrl = new URL(POSTGRES_URL);
  if (!odsUrl.password) odsUrl.password = `ods-secret-${randomBytes(8).toString('hex')}`;
  const odsPassword = decodeURIComponent(odsUrl.password);

  before(async () => {
    stack = await startStack({ worker: false });
    receiver = await OtlpReceiver.start();
  });
  after(async () => {
    await receiver?.stop();
    await stack?.stop();
  });

  /** Starts both processes, creates one instance through the API process, stops both cleanly. */
  async function createThroughProcesses(env: Record<string, string>, name: string, traceparent: string) {
    const processEnv = { ...stack.env, ODS_SERVER_URL: odsUrl.toString(), OTEL_BSP_SCHEDULE_DELAY: '100', ...env };
    const worker = new WorkerProcess(processEnv);
    let api: ApiProcess | undefined;
    try {
      api = await ApiProcess.start(processEnv);
      const response = await fetch(`${api.baseUrl}/admin/instances`, {
        method: 'POST',
        headers: { authorization: `Bearer ${stack.tokens.full}`, 'content-type': 'application/json', traceparent },
        body: JSON.stringify({ instanceName: `Traced ${stack.id} ${name}`, databaseName: stack.db(name) }),
      });
      expect(response.status).to.equal(201);
      const created = (await response.json()) as { id: string };
      await stack.waitForStatus(created.id, 'Created', 45_000);
      api.kill('SIGTERM');
      worker.child.kill('SIGTERM');
      expect(await api.exited).to.equal(0);
      expect(await worker.exited).to.equal(0);
      return { worker };
    } finally {
      api?.kill('SIGKILL');
      await worker.kill('SIGKILL');
    }
  }

  it('follows one create from the HTTP request through the queue to the worker’s SQL, in one trace, without secrets', async () => {
    const traceId = randomBytes(16).toString('hex');
    const callerSpanId = randomBytes(8).toString('hex');
    const { worker } = await createThroughProcesses(
      { OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url },
      'traced',
      `00-${traceId}-${callerSpanId}-01`,
    );
    expect(worker.events('tracing.started')).to.have.length(1);
    const spans = await waitFor(
      async () => {
        const inTrace = receiver.spans.filter((s) => s.traceId === traceId);
        return inTrace.some((s) => s.kind === CLIENT && /CREATE DATABASE/.test(String(s.attributes['db.statement'])))
          ? inTrace
          : undefined;
      },
      'the create’s spans at the receiver',
      10_000,
    );
    const byId = new Map(spans.map((s) => [s.spanId, s]));
    const ancestors = (span: ReceivedSpan): ReceivedSpan[] => {
      const chain: ReceivedSpan[] = [];
      for (let p = byId.get(span.parentSpanId); p; p = byId.get(p.parentSpanId)) chain.push(p);
      return chain;
    };

    const http = spans.find((s) => s.kind === SERVER);
    expect(http, 'the API’s server span').to.include({
      service: 'odsim-api',
      name: 'POST /admin/instances',
      parentSpanId: callerSpanId,
    });
    expect(http!.attributes).to.include({ 'http.request.method': 'POST', 'http.response.status_code': 201 });

    const enqueue = spans.find((s) => s.kind === PRODUCER);
    expect(enqueue, 'the enqueue span').to.include({ service: 'odsim-api' });
    expect(ancestors(enqueue!)).to.include(http);

    const job = spans.find((s) => s.kind === CONSUMER);
    expect(job, 'the worker’s job span').to.include({ service: 'odsim-worker' });
    expect(ancestors(job!)).to.include.members([enqueue, http]);

    const clone = spans.find(
      (s) => s.kind === CLIENT && /^CREATE DATABASE .* TEMPLATE /.test(String(s.attributes['db.statement'])),
    );
    expect(clone, 'the clone statement’s span').to.include({ service: 'odsim-worker', name: 'CREATE DATABASE' });
    expect(clone!.attributes).to.include({ 'db.system': 'postgresql' });
    expect(String(clone!.attributes['db.statement'])).to.include(EDFI_TEMPLATE);
    const cloneChain = ancestors(clone!);
    expect(cloneChain.map((s) => s.name)).to.include('create instance');
    expect(cloneChain).to.include.members([job, enqueue, http]);

    // The liveness probe ApiProcess.start polled is no trace of its own.
    expect(receiver.spans.filter((s) => String(s.attributes['url.path']).startsWith('/health/'))).to.deep.equal([]);

    // Nothing sent anywhere carries the ODS server's password, the bearer token or the signing key.
    const sent = receiver.bodies.join('\n');
    expect(sent).to.not.include(odsPassword);
    expect(sent).to.not.include(stack.tokens.full);
    expect(sent).to.not.include(stack.env.TOKEN_SIGNING_KEY);
  });

  it('sends nothing while OTEL_TRACES_EXPORTER is not otlp, even with an endpoint set', async () => {
    const before = receiver.bodies.length;
    const { worker } = await createThroughProcesses(
      { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url },
      'untraced',
      `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`,
    );
    expect(worker.events('tracing.started')).to.have.length(0);
    expect(worker.events('tracing.off')).to.have.length(1);
    expect(receiver.bodies.length).to.equal(before);
  });
});
