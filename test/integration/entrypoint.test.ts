import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { expect } from 'chai';
import { freePort, PrivateRedis } from '../support/processes';
import { POSTGRES_URL } from '../support/settings';
import { Stack } from '../support/stack';
import { waitFor } from '../support/wait';

/**
 * The container image's entry point (shared/entrypoint.ts) and HEALTHCHECK (shared/healthcheck.ts),
 * run as the image runs them, without Docker: `node dist/shared/entrypoint.js <role>`.
 */
const ROOT = path.resolve(__dirname, '../../..');
const ENTRYPOINT = path.join(ROOT, 'dist/shared/entrypoint.js');
const HEALTHCHECK = path.join(ROOT, 'dist/shared/healthcheck.js');
const SECRET = 'postgres://ods_superuser:Sup3rPrivileged@ods-server.internal:5432/postgres';
const KEY = Buffer.alloc(32, 7).toString('base64');

class Child {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  output = '';

  constructor(script: string, args: string[], env: Record<string, string>) {
    this.child = spawn(process.execPath, [script, ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const collect = (chunk: Buffer) => (this.output += chunk.toString());
    this.child.stdout!.on('data', collect);
    this.child.stderr!.on('data', collect);
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
  }

  /** Its exit code, killing it (and failing) if it runs longer than `ms`. */
  async exitWithin(ms: number): Promise<number | null> {
    const timer = setTimeout(() => this.child.kill('SIGKILL'), ms);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

async function run(script: string, args: string[], env: Record<string, string>) {
  const child = new Child(script, args, env);
  return { code: await child.exitWithin(20_000), output: child.output };
}

describe('container entry point', function () {
  const production = { NODE_ENV: 'production', TOKEN_SIGNING_KEY: 'k'.repeat(40) };

  it('refuses an unknown role, and more than one, with a usage message', async () => {
    const cases = [['scheduler'], ['api', 'worker']];
    const results = await Promise.all(cases.map((args) => run(ENTRYPOINT, args, production)));
    cases.forEach((args, i) => {
      const { code, output } = results[i]!;
      expect(code, output).to.equal(2);
      expect(output).to.include(`unknown role "${args.join(' ')}"`);
      expect(output).to.include('"api" (the default) or "worker"');
    });
  });

  it("refuses an API given the worker's secrets, naming them and printing no value, in any NODE_ENV", async () => {
    const [direct, ...viaEntryPoint] = await Promise.all([
      // The API's own config loading holds the line without the entry point (in production).
      run(path.join(ROOT, 'dist/api/main.js'), [], { ...production, ODS_SERVER_URL: SECRET }),
      ...['production', 'development'].map((NODE_ENV) =>
        run(ENTRYPOINT, ['api'], { ...production, NODE_ENV, ODS_SERVER_URL: SECRET, EDFI_ADMIN_ENCRYPTION_KEY: KEY }),
      ),
    ]);
    for (const { code, output } of viaEntryPoint) {
      expect(code, output).to.equal(1);
      expect(output).to.include('api: refusing to start');
      expect(output).to.include('ODS_SERVER_URL is set: it is a worker-only secret');
      expect(output).to.include('EDFI_ADMIN_ENCRYPTION_KEY is set: it is a worker-only secret');
      for (const value of [SECRET, 'Sup3rPrivileged', 'ods-server.internal', KEY]) expect(output).not.to.include(value);
    }
    expect(direct.code, direct.output).to.equal(1);
    expect(direct.output).to.include('ODS_SERVER_URL is set: it is a worker-only secret');
    expect(direct.output).not.to.include('Sup3rPrivileged');
  });

  it('refuses a production worker without ODS_SERVER_URL, and reports its other problems with it', async () => {
    const { code, output } = await run(ENTRYPOINT, ['worker'], {
      NODE_ENV: 'production',
      WORKER_CONCURRENCY: '0',
      EDFI_ADMIN_DATABASE_URL: 'postgres://admin:AdminSecret@edfi/EdFi_Admin',
    });
    expect(code, output).to.equal(1);
    expect(output).to.include('worker: refusing to start');
    expect(output).to.include('ODS_SERVER_URL is required when NODE_ENV=production');
    expect(output).to.include('WORKER_CONCURRENCY');
    expect(output).to.include('EDFI_ADMIN_ENCRYPTION_KEY is required');
    expect(output).not.to.include('AdminSecret');
  });

  describe('with a real admin database and Redis', () => {
    let stack: Stack;
    let redis: PrivateRedis;
    const children: Child[] = [];

    before(async () => {
      stack = new Stack();
      redis = await PrivateRedis.start();
    });
    after(async () => {
      children.forEach((c) => c.kill());
      await Promise.all(children.map((c) => c.exited));
      await redis?.stop();
      await stack?.stop();
    });

    it('starts each role (api by default), passes the healthcheck, and exits 0 on SIGTERM', async () => {
      const env: Record<string, string> = { ...stack.env, ...production, REDIS_URL: redis.url, LOG_LEVEL: 'info' };
      delete env.ODS_SERVER_URL;
      // The worker first (it prepares the admin database itself), alone: the healthcheck finds its role in /proc.
      const metricsPort = String(await freePort());
      const worker = new Child(ENTRYPOINT, ['worker'], {
        ...env,
        ODS_SERVER_URL: POSTGRES_URL,
        METRICS_PORT: metricsPort,
      });
      children.push(worker);
      await waitFor(async () => worker.output.includes('"event":"worker.started"'), `the worker\n${worker.output}`);
      // The worker's health is asked of its metrics listener (docs/observability.md).
      const workerHealthy = await run(HEALTHCHECK, [], { METRICS_PORT: metricsPort });
      expect(workerHealthy.code, workerHealthy.output).to.equal(0);
      // Without METRICS_PORT there is nothing to ask: the healthcheck says so rather than pass.
      const unconfigured = await run(HEALTHCHECK, [], {});
      expect(unconfigured.code).to.equal(1);
      expect(unconfigured.output).to.include('METRICS_PORT is not set');

      const port = await freePort();
      const api = new Child(ENTRYPOINT, [], { ...env, PORT: String(port) });
      children.push(api);
      await waitFor(
        async () => (await fetch(`http://127.0.0.1:${port}/health/live`)).ok,
        `the API to listen\n${api.output}`,
        30_000,
      );
      const healthy = await run(HEALTHCHECK, ['api'], { PORT: String(port) });
      expect(healthy.code, healthy.output).to.equal(0);
      expect(healthy.output).to.include(`http://127.0.0.1:${port}/health/ready: 200`);

      for (const child of [api, worker]) child.child.kill('SIGTERM');
      expect(await api.exitWithin(15_000), api.output).to.equal(0);
      expect(await worker.exitWithin(35_000), worker.output).to.equal(0);
      expect(api.output).to.include('"event":"process.stopped"');
      expect(worker.output).to.include('"event":"process.stopped"');
      const stopped = await run(HEALTHCHECK, ['api'], { PORT: String(port) });
      expect(stopped.code).to.equal(1);
    });
  });
});
