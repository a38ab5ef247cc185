import { ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import IORedis from 'ioredis';
import { freePort, redisCommand } from './processes';
import { waitFor } from './wait';

/*
 * Redis topologies of real redis-server processes on loopback ports, each in a temp dir of
 * its own: a Sentinel set (master, replica, three Sentinels: `redis-server <conf> --sentinel`)
 * and a three-master cluster. stop() kills every process and removes the dir.
 */

/** One redis-server process (a data node or, with `--sentinel`, a Sentinel). */
export class RedisProcess {
  private child?: ChildProcess;
  private exited?: Promise<unknown>;

  constructor(
    readonly port: number,
    private readonly args: string[],
  ) {}

  static async start(port: number, args: string[]): Promise<RedisProcess> {
    const node = new RedisProcess(port, args);
    await node.start();
    return node;
  }

  async start(): Promise<void> {
    const child = spawn('redis-server', this.args, { stdio: 'ignore' });
    this.child = child;
    this.exited = new Promise((resolve) => child.on('exit', resolve));
    await waitFor(() => this.command((c) => c.ping()).then((r) => r === 'PONG'), `redis on ${this.port}`, 10_000);
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  async kill(): Promise<void> {
    if (!this.running) return;
    this.child!.kill('SIGKILL');
    await this.exited;
  }

  /** A command on a connection of its own, which fails rather than waits if the process is down. */
  command<T>(work: (c: IORedis) => Promise<T>): Promise<T> {
    return redisCommand(this.port, work);
  }
}

/** A data node on a free loopback port, its files in `dir`, nothing kept on disk. */
async function startDataNode(dir: string, name: string, args: string[]): Promise<RedisProcess> {
  const port = await freePort();
  return RedisProcess.start(port, [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--dbfilename',
    `${name}-${port}.rdb`,
    '--save',
    '',
    '--appendonly',
    'no',
    ...args,
  ]);
}

/** A master, one replica and three Sentinels (quorum 2) watching `mymaster`, tuned to fail over in seconds. */
export class SentinelSet {
  static readonly MASTER = 'mymaster';

  private constructor(
    private readonly dir: string,
    readonly master: RedisProcess,
    readonly replica: RedisProcess,
    readonly sentinels: RedisProcess[],
  ) {}

  /** REDIS_URL for it: the three Sentinels and the master's name. */
  get url(): string {
    return `redis-sentinel://${this.sentinels.map((s) => `127.0.0.1:${s.port}`).join(',')}/${SentinelSet.MASTER}`;
  }

  static async start(): Promise<SentinelSet> {
    const dir = await mkdtemp(join(tmpdir(), 'odsim-sentinel-'));
    const started: RedisProcess[] = [];
    try {
      const node = async (name: string, args: string[]) => {
        const p = await startDataNode(dir, name, args);
        started.push(p);
        return p;
      };
      const master = await node('master', []);
      const replica = await node('replica', ['--replicaof', '127.0.0.1', String(master.port)]);
      await waitFor(
        () => replica.command((c) => c.info('replication')).then((i) => i.includes('master_link_status:up')),
        'the replica to sync',
        10_000,
      );
      const sentinels: RedisProcess[] = [];
      for (let i = 0; i < 3; i++) {
        const port = await freePort();
        const conf = join(dir, `sentinel-${i}.conf`);
        // Sentinel rewrites its file as it learns: it must be its own and writable.
        await writeFile(
          conf,
          [
            `port ${port}`,
            'bind 127.0.0.1',
            `dir ${dir}`,
            `sentinel monitor ${SentinelSet.MASTER} 127.0.0.1 ${master.port} 2`,
            `sentinel down-after-milliseconds ${SentinelSet.MASTER} 1000`,
            `sentinel failover-timeout ${SentinelSet.MASTER} 4000`,
            `sentinel parallel-syncs ${SentinelSet.MASTER} 1`,
            '',
          ].join('\n'),
        );
        const sentinel = await RedisProcess.start(port, [conf, '--sentinel']);
        started.push(sentinel);
        sentinels.push(sentinel);
      }
      const set = new SentinelSet(dir, master, replica, sentinels);
      // Ready for a failover once every Sentinel knows the replica and the two other Sentinels.
      await waitFor(
        async () => {
          for (const s of sentinels) {
            const info = await set.masterInfo(s);
            if (info['num-other-sentinels'] !== '2' || info['num-slaves'] !== '1') return false;
          }
          return true;
        },
        'the Sentinels to know each other and the replica',
        20_000,
        200,
      );
      return set;
    } catch (err) {
      await Promise.all(started.map((p) => p.kill()));
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  private async masterInfo(sentinel: RedisProcess): Promise<Record<string, string>> {
    const flat = await sentinel.command((c) => c.call('SENTINEL', 'MASTER', SentinelSet.MASTER) as Promise<string[]>);
    const info: Record<string, string> = {};
    for (let i = 0; i + 1 < flat.length; i += 2) info[flat[i]!] = flat[i + 1]!;
    return info;
  }

  /** The port the Sentinels name as master now. */
  async masterPort(): Promise<number> {
    const [, port] = await this.sentinels[0]!.command(
      (c) => c.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', SentinelSet.MASTER) as Promise<string[]>,
    );
    return Number(port);
  }

  /** Waits until the Sentinels have promoted the replica and it acts as master; returns how long that took. */
  async waitForPromotion(timeoutMs = 30_000): Promise<number> {
    const started = Date.now();
    await waitFor(
      async () =>
        (await this.masterPort()) === this.replica.port &&
        (await this.replica.command((c) => c.call('ROLE') as Promise<unknown[]>))[0] === 'master',
      'the Sentinels to promote the replica',
      timeoutMs,
      100,
    );
    return Date.now() - started;
  }

  async stop(): Promise<void> {
    await Promise.all([...this.sentinels, this.master, this.replica].map((p) => p.kill()));
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** A Redis Cluster of three masters (no replicas), all 16384 slots assigned. */
export class RedisClusterNodes {
  private constructor(
    private readonly dir: string,
    readonly nodes: RedisProcess[],
  ) {}

  get url(): string {
    return `redis-cluster://${this.nodes.map((n) => `127.0.0.1:${n.port}`).join(',')}`;
  }

  static async start(masters = 3): Promise<RedisClusterNodes> {
    const dir = await mkdtemp(join(tmpdir(), 'odsim-cluster-'));
    const nodes: RedisProcess[] = [];
    try {
      for (let i = 0; i < masters; i++) {
        nodes.push(
          await startDataNode(dir, 'node', [
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            join(dir, `nodes-${i}.conf`),
            '--cluster-node-timeout',
            '2000',
          ]),
        );
      }
      await promisify(execFile)('redis-cli', [
        '--cluster',
        'create',
        ...nodes.map((n) => `127.0.0.1:${n.port}`),
        '--cluster-replicas',
        '0',
        '--cluster-yes',
      ]);
      await waitFor(
        async () => {
          for (const n of nodes)
            if (!(await n.command((c) => c.call('CLUSTER', 'INFO') as Promise<string>)).includes('cluster_state:ok'))
              return false;
          return true;
        },
        'the cluster to be ok on every node',
        20_000,
        100,
      );
      return new RedisClusterNodes(dir, nodes);
    } catch (err) {
      await Promise.all(nodes.map((n) => n.kill()));
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /** Every key on every node that matches `pattern`, with the port of the node holding it. */
  async keys(pattern: string): Promise<{ key: string; port: number }[]> {
    const found: { key: string; port: number }[] = [];
    for (const node of this.nodes) {
      const keys = await node.command(async (c) => {
        const all: string[] = [];
        let cursor = '0';
        do {
          const [next, batch] = await c.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
          cursor = next;
          all.push(...batch);
        } while (cursor !== '0');
        return all;
      });
      found.push(...keys.map((key) => ({ key, port: node.port })));
    }
    return found;
  }

  async keySlot(key: string): Promise<number> {
    return this.nodes[0]!.command((c) => c.call('CLUSTER', 'KEYSLOT', key) as Promise<number>);
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.kill()));
    await rm(this.dir, { recursive: true, force: true });
  }
}
