import { PassThrough } from 'node:stream';
import { expect } from 'chai';
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

  it('ties the API line of a request to the worker lines of its job by the request id', async () => {
    const requestId = `trace-${stack.id}`;
    const r = await stack.request('POST', '/admin/instances', {
      headers: { 'x-request-id': requestId },
      body: { instanceName: `Logged ${stack.id}`, databaseName: stack.db('logged') },
    });
    expect(r.headers.get('x-request-id')).to.equal(requestId);
    await stack.waitForStatus(r.body.id, 'Created');
    const mine = lines.filter((l) => l.requestId === requestId);
    expect(mine.find((l) => l.event === 'http.request')).to.include({ method: 'POST', path: '/admin/instances', status: 201 });
    for (const event of ['job.started', 'job.succeeded']) {
      expect(mine.find((l) => l.event === event), event).to.include({ jobId: r.body.job.id, instanceId: r.body.id });
    }
  });

  it('gives every request line a request id, generated when the caller sends none or an unsafe one', async () => {
    const before = lines.length;
    await stack.request('GET', '/admin/instances');
    await stack.request('GET', '/health/live', { token: null, headers: { 'x-request-id': 'bad id; DROP TABLE x' } });
    const requestLines = lines.slice(before).filter((l) => l.event === 'http.request');
    expect(requestLines).to.have.length(2);
    for (const line of requestLines) expect(line.requestId).to.match(/^[0-9a-f-]{36}$/);
  });
});
