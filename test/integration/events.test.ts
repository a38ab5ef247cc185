import { expect } from 'chai';
import { ClientStore } from '../../api/auth/clients';
import { SCOPES } from '../../api/auth/scopes';
import { TokenService } from '../../api/auth/tokens';
import { EventStream } from '../support/event-stream';
import { ApiProcess } from '../support/processes';
import { type Stack, startStack } from '../support/stack';
import { waitFor } from '../support/wait';

const isInstance = (id: string, status: string) => (e: { event?: string; data: Record<string, unknown> }) =>
  e.event === 'instance' && e.data.instanceId === id && e.data.status === status;

describe('live status: GET /admin/events', () => {
  let stack: Stack;
  const streams: EventStream[] = [];
  const open = async (baseUrl: string, token: string | null, lastEventId?: string) => {
    const stream = await EventStream.open(baseUrl, token, lastEventId);
    streams.push(stream);
    return stream;
  };
  before(async () => {
    stack = await startStack({ env: { EVENTS_HEARTBEAT_MS: '300' } });
  });
  afterEach(() => {
    for (const stream of streams.splice(0)) stream.close();
  });
  after(async () => stack.stop());

  it('streams an instance through its statuses, and its job, as server-sent events', async () => {
    const stream = await open(stack.baseUrl, stack.tokens.read);
    expect(stream.status).to.equal(200);
    expect(stream.contentType).to.match(/^text\/event-stream/);
    const r = await stack.request('POST', '/admin/instances', {
      body: { instanceName: `Live ${stack.id}`, databaseName: stack.db('live') },
    });
    for (const status of ['PendingCreate', 'CreateInProgress', 'Created']) {
      await stream.waitFor(isInstance(r.body.id, status), `instance ${status}`);
    }
    await stream.waitFor(
      (e) => e.event === 'job' && e.data.jobId === r.body.job.id && e.data.status === 'succeeded',
      'job succeeded',
    );
    const ids = stream.events.map((e) => BigInt(e.id ?? '0'));
    expect(ids, 'event ids increase').to.deep.equal([...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    await waitFor(async () => stream.comments.includes('heartbeat'), 'a heartbeat (every 300 ms here)', 3000);
  });

  it('delivers a change made through another API replica', async () => {
    const replica = await stack.startAnotherApi();
    const stream = await open(replica, stack.tokens.full);
    const r = await stack.request('POST', '/admin/instances', {
      body: { instanceName: `Replica ${stack.id}`, databaseName: stack.db('replica') },
    });
    await stream.waitFor(isInstance(r.body.id, 'Created'), 'Created, on the other replica');
  });

  it('resumes after Last-Event-ID with the events the client missed, in order', async () => {
    const first = await open(stack.baseUrl, stack.tokens.full);
    const a = await stack.createInstance('resume_a');
    const seen = await first.waitFor(isInstance(a.id, 'Created'), 'the first instance Created');
    first.close();
    const b = await stack.createInstance('resume_b'); // while no one listens
    const again = await open(stack.baseUrl, stack.tokens.full, seen.id);
    await again.waitFor(isInstance(b.id, 'Created'), 'the missed instance Created');
    const statuses = again.events
      .filter((e) => e.data.instanceId === b.id && e.event === 'instance')
      .map((e) => e.data.status);
    expect(statuses).to.deep.equal(['PendingCreate', 'CreateInProgress', 'Created']);
    expect(
      again.events.some((e) => e.id === seen.id),
      'the event already seen is not sent again',
    ).to.equal(false);
  });

  it('needs a token like every other route, and no token ever goes in the URL', async () => {
    const anonymous = await open(stack.baseUrl, null);
    expect(anonymous.status).to.equal(401);
    const query = await fetch(`${stack.baseUrl}/admin/events?access_token=${stack.tokens.full}`);
    expect(query.status).to.equal(401);
    await query.body?.cancel();
  });

  it('ends a stream when its token expires: a stream outlives no token', async () => {
    const tokens = new TokenService(stack.apiConfig.tokens.signingKey!, {
      ...stack.apiConfig.tokens,
      deploymentId: stack.deploymentId,
    });
    const { client_id } = await new ClientStore(stack.dataSource).create('short-lived', SCOPES.readOnly);
    const shortLived = tokens.issue({ clientId: client_id, scopes: [SCOPES.readOnly] }, 2).access_token;
    const stream = await open(stack.baseUrl, shortLived);
    expect(stream.status).to.equal(200);
    await waitFor(async () => stream.ended, 'the stream to end at the token’s expiry', 6000);
    // A long-lived token's stream, opened at the same time, is still open.
    const other = await open(stack.baseUrl, stack.tokens.read);
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(other.ended).to.equal(false);
  });

  it('ends a stream soon after its client is disabled', async () => {
    const clients = new ClientStore(stack.dataSource);
    const client = await clients.create('to-disable', SCOPES.readOnly);
    const stream = await open(stack.baseUrl, await stack.token(client));
    expect(stream.status).to.equal(200);
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(stream.ended).to.equal(false);
    expect(await clients.disable(client.client_id)).to.equal(true);
    // Checked at each heartbeat (300 ms here) against a cache of CLIENT_CHECK_CACHE_MS (5 s by default).
    await waitFor(async () => stream.ended, 'the stream to end after the client was disabled', 10_000);
  });

  it('ends its streams when the API shuts down, so the process exits at once', async () => {
    const api = await ApiProcess.start(stack.env);
    try {
      const stream = await open(api.baseUrl, stack.tokens.full);
      expect(stream.status).to.equal(200);
      api.kill('SIGTERM');
      const code = await Promise.race([
        api.exited,
        new Promise((resolve) => setTimeout(resolve, 10_000, 'still running')),
      ]);
      expect(code).to.equal(0);
      await waitFor(async () => stream.ended, 'the stream to end', 5000);
    } finally {
      api.kill('SIGKILL');
    }
  });
});
