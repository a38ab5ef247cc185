import IORedis, { Cluster, RedisOptions } from 'ioredis';

/**
 * REDIS_URL names one of three kinds of Redis (docs/redis.md):
 *   redis://[[user]:password@]host[:port][/db]             one server (rediss:// with TLS)
 *   redis-sentinel://[[user]:password@]host[:port],…/name[/db]   a Sentinel set watching master `name`
 *   redis-cluster://[[user]:password@]host[:port],…         a Redis Cluster (any of its nodes)
 * (rediss-sentinel:// and rediss-cluster:// with TLS.) The password in the URL is the Redis
 * servers'; the Sentinels' own, if they have one, is REDIS_SENTINEL_PASSWORD.
 */
export type RedisTarget =
  | { kind: 'single'; url: string }
  | {
      kind: 'sentinel';
      sentinels: HostPort[];
      name: string;
      db: number;
      username?: string;
      password?: string;
      sentinelPassword?: string;
      tls: boolean;
    }
  | { kind: 'cluster'; nodes: HostPort[]; username?: string; password?: string; tls: boolean };

export interface HostPort {
  host: string;
  port: number;
}

/** A connection to any of the three: BullMQ, the rate limits and the watches take either. */
export type RedisClient = IORedis | Cluster;

const SCHEMES = ['redis', 'rediss', 'redis-sentinel', 'rediss-sentinel', 'redis-cluster', 'rediss-cluster'];
const MULTI_HOST = /^(rediss?)-(sentinel|cluster):\/\/(?:([^@/?#]*)@)?([^/?#]*)(?:\/([^?#]*))?(\?[^#]*)?$/i;
const HOST_PORT = /^(\[[0-9a-f:.]+\]|[A-Za-z0-9._-]+)(?::(\d{1,5}))?$/i;
const MASTER_NAME = /^[A-Za-z0-9._-]{1,100}$/;

export class RedisUrlError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('; '));
  }
}

/**
 * Reads REDIS_URL (and REDIS_SENTINEL_PASSWORD). Pure; a problem names what is wrong and shows
 * hosts and names, never a password: throws RedisUrlError listing every problem.
 */
export function parseRedisUrl(url: string, sentinelPassword?: string): RedisTarget {
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(url)?.[1]?.toLowerCase();
  if (!scheme || !SCHEMES.includes(scheme))
    throw new RedisUrlError([
      `REDIS_URL must be a redis://, rediss://, redis-sentinel:// or redis-cluster:// URL (${scheme ? `not ${scheme}://` : 'no scheme'})`,
    ]);
  if (scheme === 'redis' || scheme === 'rediss') {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new RedisUrlError([
        url.includes(',')
          ? 'REDIS_URL names several hosts: use redis-sentinel:// or redis-cluster:// for that'
          : 'REDIS_URL is not a valid URL',
      ]);
    }
    if (!parsed.hostname) throw new RedisUrlError(['REDIS_URL names no host']);
    const db = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
    if (db && !/^\d{1,2}$/.test(db)) throw new RedisUrlError([`REDIS_URL: the database "${db}" is not a number`]);
    if (sentinelPassword)
      throw new RedisUrlError(['REDIS_SENTINEL_PASSWORD is set but REDIS_URL is not a redis-sentinel:// URL']);
    return { kind: 'single', url };
  }

  const m = MULTI_HOST.exec(url);
  if (!m) throw new RedisUrlError([`REDIS_URL is not a valid ${scheme}:// URL`]);
  const [, tlsScheme, kind, userInfo, hostList, path, query] = m;
  const problems: string[] = [];
  if (query) problems.push(`REDIS_URL: a ${scheme}:// URL takes no query string`);
  const hosts: HostPort[] = [];
  const defaultPort = kind!.toLowerCase() === 'sentinel' ? 26379 : 6379;
  for (const entry of (hostList ?? '').split(',')) {
    const hp = HOST_PORT.exec(entry.trim());
    const port = hp?.[2] === undefined ? defaultPort : Number(hp[2]);
    if (!hp || port < 1 || port > 65535) problems.push(`REDIS_URL: "${entry}" is not host or host:port`);
    else hosts.push({ host: hp[1]!.replace(/^\[|\]$/g, ''), port });
  }
  let username: string | undefined;
  let password: string | undefined;
  if (userInfo !== undefined) {
    const colon = userInfo.indexOf(':');
    try {
      username = decodeURIComponent(colon < 0 ? userInfo : userInfo.slice(0, colon)) || undefined;
      password = colon < 0 ? undefined : decodeURIComponent(userInfo.slice(colon + 1)) || undefined;
    } catch {
      problems.push('REDIS_URL: the user or password is not properly percent-encoded');
    }
  }
  const tls = tlsScheme!.toLowerCase() === 'rediss';
  const segments = (path ?? '').split('/').filter(Boolean);

  if (kind!.toLowerCase() === 'cluster') {
    if (segments.length)
      problems.push('REDIS_URL: a redis-cluster:// URL takes no path (a cluster has database 0 only)');
    if (sentinelPassword) problems.push('REDIS_SENTINEL_PASSWORD is set but REDIS_URL is not a redis-sentinel:// URL');
    if (problems.length) throw new RedisUrlError(problems);
    return { kind: 'cluster', nodes: hosts, username, password, tls };
  }
  const [name, db = '0', ...rest] = segments;
  if (!name) problems.push('REDIS_URL: a redis-sentinel:// URL must end with the master name, as in /mymaster');
  else if (!MASTER_NAME.test(name)) problems.push(`REDIS_URL: "${name}" is not a master name`);
  if (!/^\d{1,2}$/.test(db) || rest.length)
    problems.push('REDIS_URL: after the master name only a database number may follow');
  if (problems.length) throw new RedisUrlError(problems);
  return {
    kind: 'sentinel',
    sentinels: hosts,
    name: name!,
    db: Number(db),
    username,
    password,
    sentinelPassword: sentinelPassword || undefined,
    tls,
  };
}

/** The problems of a REDIS_URL setting, for the config check; none means parseRedisUrl succeeds. */
export function redisUrlProblems(url: string, sentinelPassword?: string): string[] {
  try {
    parseRedisUrl(url, sentinelPassword);
    return [];
  } catch (err) {
    return err instanceof RedisUrlError ? err.problems : ['REDIS_URL could not be read'];
  }
}

/** REDIS_URL as it may be logged: any password replaced by ***. */
export function redactRedisUrl(url: string): string {
  return url.replace(/^([A-Za-z][A-Za-z0-9+.-]*:\/\/[^:@/?#]*:)[^@/?#]*@/, '$1***@');
}

/**
 * The prefix of every key the deployment writes (BullMQ's, the rate limits', the deployment
 * record's). On a cluster it is a hash tag, {QUEUE_PREFIX}: every key then hashes to one slot,
 * as BullMQ's multi-key scripts and the MULTI blocks require.
 */
export function keyPrefix(queuePrefix: string, target: RedisTarget): string {
  return target.kind === 'cluster' ? `{${queuePrefix}}` : queuePrefix;
}

/**
 * A connection to the target. BullMQ needs `maxRetriesPerRequest: null` on every connection
 * a Worker blocks on (and duplicates); a cluster carries it in its `redisOptions`, from which
 * BullMQ's duplicates are made. `options` are ioredis options (enableOfflineQueue, lazyConnect…).
 */
export function createRedisConnection(target: RedisTarget, options: RedisOptions = {}): RedisClient {
  const base: RedisOptions = { maxRetriesPerRequest: null, ...options };
  switch (target.kind) {
    case 'single':
      return new IORedis(target.url, base);
    case 'sentinel':
      return new IORedis({
        ...base,
        sentinels: target.sentinels,
        name: target.name,
        db: target.db,
        username: target.username,
        password: target.password,
        sentinelPassword: target.sentinelPassword,
        ...(target.tls ? { tls: {}, sentinelTLS: {}, enableTLSForSentinelMode: true } : {}),
        // Asks the Sentinels to tell it of a failover, rather than only finding out when the old master stops answering.
        failoverDetector: true,
      });
    case 'cluster': {
      // The offline queue stays on for a cluster whatever `options` say: ioredis also queues there a
      // command whose slot it has not (re)learned the node of, even while connected; without it such
      // commands fail ("Cluster isn't ready and enableOfflineQueue options is false") and the API's
      // queue reads and enqueues failed now and then on a healthy cluster. Failing fast while Redis is
      // down is the callers' own timeouts' job (ENQUEUE_TIMEOUT_MS, the health and scrape limits).
      const { enableOfflineQueue: _asked, lazyConnect, ...redisOptions } = base;
      return new Cluster(target.nodes, {
        enableOfflineQueue: true,
        lazyConnect,
        redisOptions: {
          ...redisOptions,
          username: target.username,
          password: target.password,
          ...(target.tls ? { tls: {} } : {}),
        },
      });
    }
  }
}

/** The nodes whose settings matter: a cluster's masters; otherwise the one connection (the master, under Sentinel). */
export function masterConnections(client: RedisClient): IORedis[] {
  return client instanceof Cluster ? client.nodes('master') : [client];
}

export function isCluster(client: RedisClient): client is Cluster {
  return client instanceof Cluster;
}
