import { expect } from 'chai';
import { OPENAPI_DOCUMENT } from '../../api/openapi/document';
import { contractProblems } from '../support/contract';
import { type Stack, startStack } from '../support/stack';

describe('the API contract (OpenAPI 3.1 at /openapi.json)', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ worker: false });
  });
  after(async () => stack.stop());

  it('serves the document to any authenticated client, and to no one else', async () => {
    const read = await stack.request('GET', '/openapi.json', { token: stack.tokens.read });
    expect(read.status).to.equal(200);
    expect(read.body).to.deep.equal(JSON.parse(JSON.stringify(OPENAPI_DOCUMENT)));
    expect(read.body.openapi).to.equal('3.1.0');
    expect((await stack.request('GET', '/openapi.json', { token: null })).status).to.equal(401);
  });

  it('documents every route the API answers: each documented operation is routed, not a 404 for an unknown route', async () => {
    const unknownId = '00000000-0000-4000-8000-000000000000';
    for (const [template, item] of Object.entries(OPENAPI_DOCUMENT.paths)) {
      for (const method of Object.keys(item).filter((k) => k !== 'parameters')) {
        if (template === '/admin/events') continue; // a stream: its own suite reads it
        const path = template.replace('{id}', unknownId);
        const r = await stack.request(method.toUpperCase(), path, method === 'get' ? {} : { body: {} });
        // stack.request has already checked the response against the document.
        expect(r.body?.detail ?? '', `${method} ${path}`).not.to.match(/^No route for/);
      }
    }
  });

  it('catches a response that breaks it: an undocumented status, a missing header, a wrong body', () => {
    const json = new Headers({ 'content-type': 'application/json' });
    expect(contractProblems('GET', '/admin/jobs/x', 418, json, {})).to.have.length(1);
    expect(contractProblems('GET', '/admin/instances', 200, json, [])[0]).to.match(/Total-Count/);
    expect(contractProblems('GET', '/admin/jobs/x', 200, json, { id: 'not-a-job' })[0]).to.match(/does not match/);
    const problem = new Headers({ 'content-type': 'application/problem+json' });
    expect(contractProblems('GET', '/admin/jobs/x', 404, problem, { title: 'Not found' })[0]).to.match(
      /does not match/,
    );
    expect(contractProblems('GET', '/nowhere', 404, json, {})[0]).to.match(/not problem\+json/);
  });
});
