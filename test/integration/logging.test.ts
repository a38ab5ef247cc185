import { PassThrough } from 'node:stream';
import { expect } from 'chai';
import { AuditEventEntity, JobEntity } from '../../shared/database/entities';
import { createLogger } from '../../shared/logger';
import { Stack, startStack } from '../support/stack';

describe('logs', () => {
  let stack: Stack;
  const lines: Record<string, unknown>[] = [];
  before(async () => {
    const stream = new PassThrough();
    stream.on('data', (chunk: Buffer) => {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
    });
    stack = await startStack({ logger: createLogger('test', 'info', stream) });
  });
  after(async () => stack.stop());

  it("ties the API line of a request to the worker lines of its job by our request id, with the caller's id beside it", async () => {
    const clientRequestId = `trace-${stack.id}`;
    const r = await stack.request('POST', '/admin/instances', {
      headers: { 'x-request-id': clientRequestId },
      body: { instanceName: `Logged ${stack.id}`, databaseName: stack.db('logged') },
    });
    const requestId = r.headers.get('x-request-id');
    expect(requestId).to.match(/^[0-9a-f-]{36}$/);
    expect(r.headers.get('x-client-request-id')).to.equal(clientRequestId);
    await stack.waitForStatus(r.body.id, 'Created');
    const mine = lines.filter((l) => l.requestId === requestId);
    expect(mine.find((l) => l.event === 'http.request')).to.include({
      method: 'POST',
      path: '/admin/instances',
      status: 201,
      clientRequestId,
    });
    for (const event of ['job.started', 'job.succeeded']) {
      expect(
        mine.find((l) => l.event === event),
        event,
      ).to.include({ jobId: r.body.job.id, instanceId: r.body.id });
    }
    // The caller's id never stands in for ours.
    expect(lines.filter((l) => l.requestId === clientRequestId)).to.deep.equal([]);
    const job = await stack.dataSource.getRepository(JobEntity).findOneByOrFail({ id: r.body.job.id });
    expect(job.requestId).to.equal(requestId);
    const audit = await stack.dataSource
      .getRepository(AuditEventEntity)
      .findOneByOrFail({ jobId: r.body.job.id, outcome: 'accepted' });
    expect(audit.requestId).to.equal(requestId);
    expect(JSON.parse(audit.details ?? '{}')).to.include({ clientRequestId });
  });

  it('uses its own request id even when the caller offers one already in use', async () => {
    const first = await stack.request('GET', '/admin/instances', { headers: { 'x-request-id': 'same-id' } });
    const second = await stack.request('GET', '/admin/instances', { headers: { 'x-request-id': 'same-id' } });
    expect(first.headers.get('x-request-id')).not.to.equal(second.headers.get('x-request-id'));
    expect(
      (await stack.request('GET', '/admin/instances/not-a-uuid', { headers: { 'x-request-id': 'same-id' } })).body
        .requestId,
    ).to.match(/^[0-9a-f-]{36}$/);
  });

  it('gives every request line a request id, generated when the caller sends none or an unsafe one', async () => {
    const before = lines.length;
    await stack.request('GET', '/admin/instances');
    await stack.request('GET', '/health/live', { token: null, headers: { 'x-request-id': 'bad id; DROP TABLE x' } });
    const requestLines = lines.slice(before).filter((l) => l.event === 'http.request');
    expect(requestLines).to.have.length(2);
    for (const line of requestLines) {
      expect(line.requestId).to.match(/^[0-9a-f-]{36}$/);
      expect(line).not.to.have.property('clientRequestId');
    }
  });
});
