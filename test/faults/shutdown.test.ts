import { ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { expect } from 'chai';
import { JobEntity } from '../../shared/database/entities';
import { ownerOf } from '../support/ods-server';
import { freePort, WorkerProcess } from '../support/processes';
import { Stack, startStack } from '../support/stack';
import { waitFor } from '../support/wait';

describe('graceful shutdown', function () {
  this.timeout(90_000);
  let stack: Stack;
  before(async () => {
    stack = await startStack({ worker: false });
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

  it('the API stops listening and exits cleanly on SIGTERM', async () => {
    const port = await freePort();
    const api: ChildProcess = spawn(process.execPath, [path.resolve(__dirname, '../../api/main.js')], {
      env: { PATH: process.env.PATH ?? '', ...stack.env, PORT: String(port) },
      stdio: 'ignore',
    });
    const exited = new Promise<number | null>((resolve) => api.on('exit', resolve));
    try {
      await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/health/live`)).ok, 'the API to listen', 30_000);
      api.kill('SIGTERM');
      expect(await exited).to.equal(0);
      const refused = await fetch(`http://127.0.0.1:${port}/health/live`).then(
        () => false,
        () => true,
      );
      expect(refused).to.equal(true);
    } finally {
      api.kill('SIGKILL');
    }
  });
});
