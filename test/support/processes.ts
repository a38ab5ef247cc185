import { ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';
import IORedis from 'ioredis';
import { waitFor } from './wait';

const ROOT = path.resolve(__dirname, '../../..');

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/** A worker as operators run it: its own process, its own connections, its JSON log lines kept. */
export class WorkerProcess {
  readonly lines: string[] = [];
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;

  constructor(env: Record<string, string>) {
    this.child = spawn(process.execPath, [path.join(ROOT, 'dist/worker/main.js')], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let buffered = '';
    const collect = (chunk: Buffer) => {
      buffered += chunk.toString();
      const parts = buffered.split('\n');
      buffered = parts.pop() ?? '';
      this.lines.push(...parts.filter(Boolean));
    };
    this.child.stdout!.on('data', collect);
    this.child.stderr!.on('data', collect);
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
  }

  events(name: string): Record<string, unknown>[] {
    return this.lines.filter((l) => l.includes(`"event":"${name}"`)).map((l) => JSON.parse(l));
  }

  async waitForEvent(
    name: string,
    match: (e: Record<string, unknown>) => boolean = () => true,
    timeoutMs = 60_000,
  ): Promise<Record<string, unknown>> {
    return waitFor(
      async () => this.events(name).find(match),
      `worker event ${name}\n${this.lines.slice(-5).join('\n')}`,
      timeoutMs,
      20,
    );
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    await this.exited;
  }
}

/** An API as operators run it (`node dist/api/main.js`), listening on a free port of its own. */
export class ApiProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;

  private constructor(
    readonly baseUrl: string,
    env: Record<string, string>,
  ) {
    this.child = spawn(process.execPath, [path.join(ROOT, 'dist/api/main.js')], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: 'ignore',
    });
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
  }

  /** Starts one and waits until it answers its liveness check. */
  static async start(env: Record<string, string>): Promise<ApiProcess> {
    const port = await freePort();
    const api = new ApiProcess(`http://127.0.0.1:${port}`, { ...env, PORT: String(port) });
    await waitFor(async () => (await fetch(`${api.baseUrl}/health/live`)).ok, 'the API to listen', 30_000);
    return api;
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
  }
}

/** The worker processes a suite starts, each with the suite's environment plus its own; killed together. */
export class WorkerFleet {
  private readonly workers: WorkerProcess[] = [];

  constructor(private readonly baseEnv: () => Record<string, string>) {}

  spawn(env: Record<string, string> = {}): WorkerProcess {
    const worker = new WorkerProcess({ ...this.baseEnv(), LOG_LEVEL: 'info', ...env });
    this.workers.push(worker);
    return worker;
  }

  async killAll(): Promise<void> {
    await Promise.all(this.workers.splice(0).map((w) => w.kill('SIGKILL')));
  }
}

/** A private Redis (nothing on disk) that a test may flush, stop and restart without touching anyone else's. */
export class PrivateRedis {
  private child?: ChildProcess;
  /** `args`: more redis-server options, after (and so over) the defaults, e.g. ['--maxmemory', '100mb']. */
  constructor(
    readonly port: number,
    private readonly args: string[] = [],
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(args: string[] = []): Promise<PrivateRedis> {
    const redis = new PrivateRedis(await freePort(), args);
    await redis.start();
    return redis;
  }

  async start(): Promise<void> {
    this.child = spawn(
      'redis-server',
      [
        ...['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', '/tmp'],
        ...this.args,
      ],
      { stdio: 'ignore' },
    );
    await waitFor(() => this.command((c) => c.ping()).then((r) => r === 'PONG'), `redis on ${this.port}`, 10_000);
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.on('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  async flushAll(): Promise<void> {
    await this.command((c) => c.flushall());
  }

  private command<T>(work: (c: IORedis) => Promise<T>): Promise<T> {
    return redisCommand(this.port, work);
  }
}

/** A command on a connection of its own to 127.0.0.1:`port`, which fails rather than waits if the server is down. */
export async function redisCommand<T>(port: number, work: (c: IORedis) => Promise<T>): Promise<T> {
  const client = new IORedis(port, '127.0.0.1', {
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    lazyConnect: true,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return await work(client);
  } finally {
    client.disconnect();
  }
}
