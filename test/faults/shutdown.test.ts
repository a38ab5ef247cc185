import { expect } from 'chai';
import { JobEntity } from '../../shared/database/entities';
import { connectTo, dropDatabases, ownerOf, withServer } from '../support/ods-server';
import { randomBytes } from 'node:crypto';
import { EDFI_TEMPLATE, SMALL_TEMPLATE } from '../support/settings';
import { ApiProcess, WorkerProcess } from '../support/processes';
import { Stack, startStack } from '../support/stack';

describe('graceful shutdown', function () {
  this.timeout(90_000);
  let stack: Stack;
  // A template of this file's own, held busy by a session in one test (SQLSTATE 55006, retried).
  const busyTemplate = `odsim_busy_template_${randomBytes(4).toString('hex')}`;
  before(async () => {
    stack = await startStack({
      worker: false,
      env: {
        ODS_TEMPLATES: JSON.stringify([
          { name: 'minimal', database: EDFI_TEMPLATE },
          { name: 'busy', database: busyTemplate },
        ]),
      },
    });
  });
  after(async () => stack.stop());

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`a worker finishes the job in hand on ${signal}, then exits cleanly`, async () => {
      const worker = new WorkerProcess({
        ...stack.env,
        ODSIM_FAULT_PAUSE_AT: 'create.cloned',
        ODSIM_FAULT_PAUSE_MS: '2000',
      });
      try {
        const name = stack.db(`stop_${signal.toLowerCase()}`);
        const r = await stack.request('POST', '/admin/instances', {
          body: { instanceName: `Stop ${signal} ${stack.id}`, databaseName: name },
        });
        await worker.waitForEvent('fault.paused');
        worker.child.kill(signal);
        expect(await worker.exited).to.equal(0);
        expect(worker.events('process.stopped')).to.have.length(1);
        const job = await stack.dataSource.getRepository(JobEntity).findOneByOrFail({ id: r.body.job.id });
        expect(job).to.include({ status: 'succeeded', attempts: 1 });
        expect(await ownerOf(name)).to.equal(r.body.id);
      } finally {
        await worker.kill('SIGKILL');
      }
    });
  }

  it('a worker stopping while a job waits to retry hands the job back at once; another worker finishes it', async () => {
    const template = busyTemplate;
    await withServer((c) =>
      c.query(`CREATE DATABASE ${c.escapeIdentifier(template)} TEMPLATE ${c.escapeIdentifier(SMALL_TEMPLATE)}`),
    );
    const holder = await connectTo(template);
    const env = {
      ...stack.env,
      // Long enough that waiting out the retries would take minutes.
      TRANSIENT_RETRY_ATTEMPTS: '40',
      TRANSIENT_RETRY_BASE_MS: '2000',
      TRANSIENT_RETRY_MAX_MS: '5000',
    };
    const worker = new WorkerProcess(env);
    try {
      const name = stack.db('handed_back');
      const r = await stack.request('POST', '/admin/instances', {
        body: { instanceName: `Handed back ${stack.id}`, databaseName: name, template: 'busy' },
      });
      await worker.waitForEvent('job.retrying', (e) => e.code === '55006');
      worker.child.kill('SIGTERM');
      // The old worker waited out every retry, then was cut off by the 30 s shutdown grace (exit 1).
      const code = await Promise.race([
        worker.exited,
        new Promise((resolve) => setTimeout(resolve, 15_000, 'still running')),
      ]);
      expect(code, 'exit code').to.equal(0);
      expect(worker.events('job.handed_back')).to.have.length(1);
      const row = await stack.dataSource.getRepository(JobEntity).findOneByOrFail({ id: r.body.job.id });
      expect(row.status, 'the job is not failed').to.equal('running');
      expect((await stack.request('GET', `/admin/instances/${r.body.id}`)).body.status).to.equal('CreateInProgress');

      await holder.end();
      await stack.startWorker();
      const done = await stack.waitForStatus(r.body.id, 'Created', 60_000);
      expect(await ownerOf(done.databaseName)).to.equal(r.body.id);
      const finished = await stack.dataSource.getRepository(JobEntity).findOneByOrFail({ id: r.body.job.id });
      expect(finished).to.include({ status: 'succeeded', attempts: 2 });
    } finally {
      await holder.end().catch(() => undefined);
      await worker.kill('SIGKILL');
      await stack.stopWorkers();
      await dropDatabases([template]);
    }
  });

  it('the API stops listening and exits cleanly on SIGTERM', async () => {
    const api = await ApiProcess.start(stack.env);
    try {
      api.kill('SIGTERM');
      expect(await api.exited).to.equal(0);
      const refused = await fetch(`${api.baseUrl}/health/live`).then(
        () => false,
        () => true,
      );
      expect(refused).to.equal(true);
    } finally {
      api.kill('SIGKILL');
    }
  });
});
